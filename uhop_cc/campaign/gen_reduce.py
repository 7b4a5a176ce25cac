"""Reducing categories: reduction (rows, columns, full, norms...), matrix (matmul with
epilogues, batched, matrix-vector) and vector (BLAS-1 kernels)."""
from __future__ import annotations

from ..ir import nodes as N
from .gen_base import ProgramBuilder
from .gen_tree import access, binop, float_lit, fn_call, kernel_of, param_of, reduce_over, ref, statement

__all__ = ["cat_reduction", "cat_matrix", "cat_vector"]


def cat_reduction(g: ProgramBuilder):
    r = g.rng
    variant = r.choice(("row", "col", "full", "mean", "l1", "l2", "lse", "maxabs", "mid3", "count", "prod",
                        "range"))
    ints_ok = variant in ("row", "col", "full", "mid3", "count")
    dtype = g.dtype(ints=ints_ok)
    X, Y = g.inp(), g.out()
    op = r.choice(("sum", "max", "min")) if variant in ("row", "col", "full", "mid3") else "sum"
    if variant == "mid3":
        ds = [g.size(3) for _ in range(3)]
        a, b, c = g.idx(3)
        body = _red_body(g, access(X, a, b, c), dtype)
        return f"red_{op}_mid", kernel_of([param_of(X, dtype, ds)], [param_of(Y, dtype, [ds[0], ds[2]])],
                                          [statement(Y, [a, c], reduce_over(op, [b], body))])
    if variant == "full":
        rank = r.randint(1, 2)
        ds = [g.size(rank) for _ in range(rank)]
        vs = g.idx(rank)
        body = _red_body(g, access(X, *vs), dtype)
        return f"red_{op}_all", kernel_of([param_of(X, dtype, ds)], [param_of(Y, dtype, [])],
                                          [statement(Y, [], reduce_over(op, vs, body))])
    R, C = g.size(2), g.size(2, lo=4 if variant in ("prod", "range") else 1)
    i, j = g.idx(2)
    x = access(X, i, j)
    one = g.one(dtype)
    if variant == "row":
        e = reduce_over(op, [j], _red_body(g, x, dtype))
    elif variant == "col":
        e = reduce_over(op, [i], _red_body(g, x, dtype))
        return f"red_{op}_col", kernel_of([param_of(X, dtype, [R, C])], [param_of(Y, dtype, [C])],
                                          [statement(Y, [j], e)])
    elif variant == "mean":
        e = binop("/", reduce_over("sum", [j], x), ref(C)) if r.random() < 0.5 else \
            reduce_over("sum", [j], binop("/", x, ref(C)))
    elif variant == "l1":
        e = reduce_over("sum", [j], fn_call("abs", x))
    elif variant == "l2":
        e = fn_call("sqrt", reduce_over("sum", [j], fn_call("pow", x, float_lit(2.0))))
    elif variant == "lse":
        e = fn_call("log", reduce_over("sum", [j], fn_call("exp", x)))
    elif variant == "maxabs":
        e = reduce_over("max", [j], fn_call("abs", x))
    elif variant == "count":
        e = reduce_over("sum", [j], fn_call("select", binop(r.choice((">", "<", ">=")), x, g.zero(dtype)),
                                            one, g.zero(dtype)))
    elif variant == "prod":
        k = r.randint(2, 4)
        (p,) = g.idx(1)
        e = reduce_over("prod", [(p, 0, k)], binop("+", one, binop("*", float_lit(0.25), access(X, i, p))))
    else:  # range: an explicit sub-range of the row
        lo = r.randint(0, 2)
        (p,) = g.idx(1)
        e = reduce_over(r.choice(("sum", "max")), [(p, lo, ref(C))], access(X, i, p))
    return f"red_{variant}", kernel_of([param_of(X, dtype, [R, C])], [param_of(Y, dtype, [R])], [statement(Y, [i], e)])


def _red_body(g: ProgramBuilder, x: N.Expr, dtype: str) -> N.Expr:
    r = g.rng
    k = r.random()
    if k < 0.5 or dtype == "i32":
        return x if dtype != "i32" or k < 0.7 else fn_call("abs", x)
    if k < 0.7:
        return binop("*", x, g.const(dtype, 0.25, 2.0))
    return g.safe_fn(x, dtype, r.choice(("tanh", "sigmoid", "exp", "sin")))

# ---------------------------------------------------------------- matrix


def cat_matrix(g: ProgramBuilder):
    r = g.rng
    dtype = g.fdtype()
    kind = r.choice(("mm", "mm", "mm", "bmm", "mv", "vm"))
    Am, Bm, Cm = g.inp(), g.inp(), g.out()
    params, extra_in = [], []
    if kind in ("mm", "bmm"):
        rank = 3 if kind == "bmm" else 2
        M, Nn, K = g.size(rank), g.size(rank), g.size(rank)
        i, j, k = g.idx(3)
        ta, tb = r.random() < 0.35, r.random() < 0.35
        adims, aidx = ([K, M], [k, i]) if ta else ([M, K], [i, k])
        bdims, bidx = ([Nn, K], [j, k]) if tb else ([K, Nn], [k, j])
        cdims, cidx = [M, Nn], [i, j]
        if kind == "bmm":
            Bt = g.size(3, hi=8)
            (b,) = g.idx(1)
            adims, aidx, cdims, cidx = [Bt] + adims, [b] + aidx, [Bt] + cdims, [b] + cidx
            if r.random() < 0.7:
                bdims, bidx = [Bt] + bdims, [b] + bidx
        variant = ("bmm_" if kind == "bmm" else "mm_") + ("t" if ta else "n") + ("t" if tb else "n")
    elif kind == "mv":
        M, K = g.size(2), g.size(2)
        i, k = g.idx(2)
        adims, aidx, bdims, bidx, cdims, cidx = [M, K], [i, k], [K], [k], [M], [i]
        Nn, j, variant = M, i, "matvec"
    else:
        K, Nn = g.size(2), g.size(2)
        k, j = g.idx(2)
        adims, aidx, bdims, bidx, cdims, cidx = [K], [k], [K, Nn], [k, j], [Nn], [j]
        variant = "vecmat"
    params += [param_of(Am, dtype, adims), param_of(Bm, dtype, bdims)]
    core = reduce_over("sum", [k], binop("*", access(Am, *aidx), access(Bm, *bidx)))
    e: N.Expr = core
    epi = r.choice(("none", "none", "alpha", "bias", "act", "axpby", "bias_act"))
    if epi in ("alpha", "axpby"):
        s = g.scalar()
        params.append(param_of(s, dtype, None))
        e = binop("*", ref(s), e)
    if epi == "axpby":
        Cin = g.inp()
        params.append(param_of(Cin, dtype, cdims))
        e = binop("+", binop("*", g.const(dtype, 0.25, 1.5), access(Cin, *cidx)), e)
    if epi in ("bias", "bias_act"):
        bias = g.inp()
        last = cdims[-1]
        params.append(param_of(bias, dtype, [last]))
        e = binop("+", access(bias, cidx[-1]), e)
    if epi in ("act", "bias_act"):
        e = fn_call(r.choice(("relu", "tanh", "sigmoid")), e)
    if epi != "none":
        variant += "_" + epi
    return variant, kernel_of(params + extra_in, [param_of(Cm, dtype, cdims)], [statement(Cm, cidx, e)])

# ---------------------------------------------------------------- vector (BLAS-1)


def cat_vector(g: ProgramBuilder):
    r = g.rng
    variant = r.choice(("axpy", "axpby", "scal", "dot", "nrm2", "asum", "amax", "outer", "lerp", "rot", "wsum"))
    dtype = g.dtype(ints=variant in ("axpy", "scal", "dot", "asum", "amax", "outer"))
    Nn = g.size(1)
    (i,) = g.idx(1)
    X, Yv = g.inp(), g.inp()
    x, y = access(X, i), access(Yv, i)
    vec = lambda n: param_of(n, dtype, [Nn])  # noqa: E731
    if variant in ("axpy", "axpby", "scal", "lerp"):
        a = g.scalar()
        Z = g.out()
        if variant == "axpy":
            e, ins = binop("+", binop("*", ref(a), x), y), [param_of(a, dtype, None), vec(X), vec(Yv)]
        elif variant == "axpby":
            b = g.scalar()
            e = binop("+", binop("*", ref(a), x), binop("*", ref(b), y))
            ins = [param_of(a, dtype, None), vec(X), param_of(b, dtype, None), vec(Yv)]
        elif variant == "scal":
            e, ins = binop("*", ref(a), x), [param_of(a, dtype, None), vec(X)]
        else:
            e = binop("+", x, binop("*", ref(a), binop("-", y, x)))
            ins = [vec(X), vec(Yv), param_of(a, dtype, None)]
        return variant, kernel_of(ins, [vec(Z)], [statement(Z, [i], e)])
    if variant == "rot":
        c, s = g.scalar(), g.scalar()
        Xo, Yo = g.out(), g.out()
        return variant, kernel_of([vec(X), vec(Yv), param_of(c, dtype, None), param_of(s, dtype, None)],
                                  [vec(Xo), vec(Yo)],
                                  [statement(Xo, [i], binop("+", binop("*", ref(c), x), binop("*", ref(s), y))),
                                   statement(Yo, [i], binop("-", binop("*", ref(c), y), binop("*", ref(s), x)))])
    if variant == "outer":
        Mm = g.size(2, hi=max(1, g.lim.max_elements // g.sizes[Nn]))
        (j,) = g.idx(1)
        Nn2 = Nn
        A = g.out()
        return variant, kernel_of([param_of(X, dtype, [Nn2]), param_of(Yv, dtype, [Mm])],
                                  [param_of(A, dtype, [Nn2, Mm])],
                                  [statement(A, [i, j], binop("*", access(X, i), access(Yv, j)))])
    S = g.out()
    if variant == "dot":
        e, ins = reduce_over("sum", [i], binop("*", x, y)), [vec(X), vec(Yv)]
    elif variant == "nrm2":
        e, ins = fn_call("sqrt", reduce_over("sum", [i], fn_call("pow", x, float_lit(2.0)))), [vec(X)]
    elif variant == "asum":
        e, ins = reduce_over("sum", [i], fn_call("abs", x)), [vec(X)]
    elif variant == "amax":
        e, ins = reduce_over("max", [i], fn_call("abs", x)), [vec(X)]
    else:  # wsum: a weighted mean
        e = binop("/", reduce_over("sum", [i], binop("*", fn_call("abs", y), x)),
                  binop("+", reduce_over("sum", [i], fn_call("abs", y)), g.one(dtype)))
        ins = [vec(X), vec(Yv)]
    return variant, kernel_of(ins, [param_of(S, dtype, [])], [statement(S, [], e)])
