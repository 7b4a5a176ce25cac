"""Neighbourhood categories: stencil2d and stencil3d (valid or zero-padded), and pooling."""
from __future__ import annotations

import itertools
from typing import List, Tuple

from ..ir import nodes as N
from .gen_base import ProgramBuilder
from .gen_tree import access, all_of, binop, float_lit, fn_call, int_lit, kernel_of, param_of, reduce_over, ref, \
    shifted, statement, sum_of

__all__ = ["cat_stencil2d", "cat_stencil3d", "cat_pooling"]


def _stencil_offsets(g: ProgramBuilder, ndim: int, radius: int) -> List[Tuple[int, ...]]:
    r = g.rng
    box = list(itertools.product(range(-radius, radius + 1), repeat=ndim))
    shape = r.choice(("star", "box", "random", "star"))
    center = (0,) * ndim
    if shape == "star":
        offs = [o for o in box if sum(1 for v in o if v) <= 1]
    elif shape == "box":
        offs = box if len(box) <= 27 else [o for o in box if sum(abs(v) for v in o) <= radius]
    else:
        k = r.randint(2, min(len(box) - 1, 9))
        offs = [center] + r.sample([o for o in box if o != center], k)
    if center not in offs:
        offs.append(center)
    return sorted(set(offs))


def _stencil(g: ProgramBuilder, ndim: int):
    r = g.rng
    radius = 1 if ndim == 3 else r.choice((1, 1, 2))
    mode = r.choice(("valid", "valid", "same"))
    dtype = g.fdtype()
    X, Y = g.inp(), g.out()
    lead_d, lead_v = [], []
    budget = g.lim.max_elements
    if r.random() < 0.25:
        lead_d, lead_v = [g.size(ndim + 1, hi=4)], g.idx(1)
        budget = max(1, budget // g.sizes[lead_d[0]])
    cap = int(budget ** (1.0 / ndim))
    ds = [g.size(ndim, lo=2 * radius + 1, hi=max(cap, 2 * radius + 1)) for _ in range(ndim)]
    vs = g.idx(ndim)
    offs = _stencil_offsets(g, ndim, radius)
    kind = r.choice(("weights", "weights", "heat", "max", "min"))
    if mode == "valid":
        out_dims = [binop("-", ref(d), int_lit(2 * radius)) for d in ds]
    else:
        out_dims = [ref(d) for d in ds]

    def at(o):
        if mode == "valid":
            idx = [shifted(v, radius + k) for v, k in zip(vs, o)]
            return access(X, *lead_v, *idx)
        idx = [shifted(v, k) for v, k in zip(vs, o)]
        conds = []
        for v, k, d in zip(vs, o, ds):
            if k < 0:
                conds.append(binop(">=", ref(v), int_lit(-k)))
            elif k > 0:
                conds.append(binop("<", binop("+", ref(v), int_lit(k)), ref(d)))
        a = access(X, *lead_v, *idx)
        cond = all_of(conds)
        return a if cond is None else fn_call("select", cond, a, float_lit(0.0))

    params = [param_of(X, dtype, lead_d + ds)]
    center = (0,) * ndim
    if kind in ("max", "min"):
        e = at(offs[0])
        for o in offs[1:]:
            e = fn_call(kind, e, at(o))
    elif kind == "heat":
        a = g.scalar()
        params.append(param_of(a, dtype, None))
        nb = [o for o in offs if o != center] or [center]
        lap = binop("-", sum_of([at(o) for o in nb]), binop("*", float_lit(float(len(nb))), at(center)))
        e = binop("+", at(center), binop("*", ref(a), lap))
    else:
        e = sum_of([binop("*", float_lit(g.weight()), at(o)) for o in offs])
    if r.random() < 0.2:  # a variable coefficient field
        Kf = g.inp()
        params.append(param_of(Kf, dtype, lead_d + out_dims))
        e = binop("*", access(Kf, *lead_v, *vs), e)
    # the center must be read through a shift in valid mode (it is, radius >= 1); in same mode
    # make sure at least one neighbour is read, so the program is a stencil
    if len(offs) == 1:
        e = binop("+", e, at(tuple(1 if a == 0 else 0 for a in range(ndim))))
    variant = f"st{ndim}d_{kind}_{mode}_r{radius}"
    return variant, kernel_of(params, [param_of(Y, dtype, lead_d + out_dims)], [statement(Y, lead_v + vs, e)])


def cat_stencil2d(g: ProgramBuilder):
    return _stencil(g, 2)


def cat_stencil3d(g: ProgramBuilder):
    return _stencil(g, 3)

# ---------------------------------------------------------------- pooling


def cat_pooling(g: ProgramBuilder):
    r = g.rng
    nd = r.choice((1, 2, 2, 2))
    k = r.choice((2, 3))
    s = r.choice((2, 2, 3))
    op = r.choice(("max", "max", "avg", "min", "sum", "l2"))
    dtype = g.fdtype()
    X, Y = g.inp(), g.out()
    lead_n = r.choice((0, 1, 2)) if nd == 2 else r.choice((0, 1))
    rank = nd + lead_n
    lead_d = [g.size(rank, hi=4) for _ in range(lead_n)]
    lead_v = g.idx(lead_n) if lead_n else []
    sp = [g.size(rank, lo=k) for _ in range(nd)]
    ov = g.idx(nd)
    wv = g.idx(nd)
    out_sp = []
    for d in sp:
        if k == s:
            out_sp.append(binop("/", ref(d), int_lit(s)))
        else:
            out_sp.append(binop("+", binop("/", binop("-", ref(d), int_lit(k)), int_lit(s)), int_lit(1)))
    idx = [binop("+", binop("*", int_lit(s), ref(o)), ref(w)) for o, w in zip(ov, wv)]
    x = access(X, *lead_v, *idx)
    rvars = [(w, 0, k) for w in wv]
    if op in ("max", "min", "sum"):
        e: N.Expr = reduce_over(op, rvars, x)
    elif op == "avg":
        e = binop("/", reduce_over("sum", rvars, x), float_lit(float(k ** nd)))
    else:
        e = fn_call("sqrt", reduce_over("sum", rvars, fn_call("pow", fn_call("abs", x), float_lit(2.0))))
    return f"pool{nd}d_{op}_k{k}s{s}", kernel_of([param_of(X, dtype, lead_d + sp)],
                                                 [param_of(Y, dtype, lead_d + out_sp)], [statement(Y, lead_v + ov, e)])
