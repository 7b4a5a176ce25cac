"""Elementwise categories: arithmetic, math_chain, select (one statement, no reduction), and
transform (data movement: transposes, flips, crops, pads, concatenation...)."""
from __future__ import annotations

from typing import Callable

from ..ir import nodes as N
from .gen_base import ProgramBuilder
from .gen_tree import (access, access_pair, binop, float_lit, fn_call, int_lit, kernel_of, param_of, ref, shifted,
                       statement)

__all__ = ["cat_arithmetic", "cat_math_chain", "cat_select", "cat_transform", "TRANSFORMS"]


def cat_arithmetic(g: ProgramBuilder):
    r = g.rng
    rank, dims, vars_, dtype, tensors, scalars, params = g.elementwise_frame()
    leaves = g.leaves_for(tensors, scalars, dtype)
    depth = r.randint(1, g.lim.max_depth)
    e = g.ew(leaves, dtype, depth, fns=False)
    e = g.use_all(e, tensors, scalars)
    out = g.out()
    variant = {"i32": "iarith", "f64": "darith"}.get(dtype, "arith")
    return variant, kernel_of(params, [param_of(out, dtype, dims)], [statement(out, vars_, e)])


def cat_math_chain(g: ProgramBuilder):
    r = g.rng
    rank, dims, vars_, dtype, tensors, scalars, params = g.elementwise_frame(1, 2, (1, 2), 0.3,
                                                                             g.fdtype())
    one = g.one(dtype)
    chains = []
    for t, idx in tensors:
        x: N.Expr = access(t, *idx)
        bound = 1.0
        for _ in range(r.randint(2, 5)):
            fn = r.choice(("tanh", "sigmoid", "sin", "cos", "exp", "sqrt", "log", "rsqrt", "square", "affine",
                           "pow", "relu", "abs"))
            if fn == "exp":
                if bound > 3.0:
                    x, bound = fn_call("tanh", x), 1.0
                x, bound = fn_call("exp", x), 2.718281828 ** bound
            elif fn in ("sqrt", "log", "rsqrt"):
                x = fn_call(fn, binop("+", fn_call("abs", x), one))
                bound = {"sqrt": (bound + 1) ** 0.5, "log": bound, "rsqrt": 1.0}[fn]
            elif fn == "square":
                if bound > 8:
                    x, bound = fn_call("tanh", x), 1.0
                x, bound = binop("*", x, x), bound * bound
            elif fn == "affine":
                a, b = round(r.uniform(0.25, 2.0), 2), round(r.uniform(-1.0, 1.0), 2)
                x, bound = binop("+", binop("*", float_lit(a), x), float_lit(b)), a * bound + abs(b)
            elif fn == "pow":
                p = r.choice((0.5, 1.5, 2.0, 3.0))
                if bound > 4:
                    x, bound = fn_call("tanh", x), 1.0
                x, bound = fn_call("pow", binop("+", fn_call("abs", x), one), float_lit(p)), (bound + 1) ** p
            elif fn in ("relu", "abs"):
                x = fn_call(fn, x)
            else:
                if fn in ("sin", "cos") and bound > 2.0:
                    x = fn_call("tanh", x)
                x, bound = fn_call(fn, x), 1.0
            if bound > 16.0:  # keep values (and the conditioning of what follows) moderate
                x, bound = fn_call("tanh", x), 1.0
        chains.append(x)
    e = chains[0]
    for c in chains[1:]:
        e = binop(r.choice("+-*"), e, c)
    if scalars:
        e = binop("*", ref(scalars[0]), e)
    out = g.out()
    return "mathchain", kernel_of(params, [param_of(out, dtype, dims)], [statement(out, vars_, e)])


def cat_select(g: ProgramBuilder):
    r = g.rng
    variant = r.choice(("leaky", "clamp", "where", "piecewise", "parity", "mask", "nested"))
    if variant in ("leaky", "clamp", "piecewise"):
        dtype = g.fdtype()
    else:
        dtype = g.dtype()
    rank, dims, vars_, dtype, tensors, scalars, params = g.elementwise_frame(
        1, 2, (1, 1) if variant in ("leaky", "clamp", "piecewise") else (2, 3), 0.3, dtype)
    leaves = g.leaves_for(tensors, scalars, dtype)
    x = access_pair(tensors[0])
    if variant == "leaky":
        e = N.Call("select", (binop(">", x, g.zero(dtype)), x,
                              binop("*", float_lit(round(r.uniform(0.01, 0.3), 2)), x)))
    elif variant == "clamp":
        lo, hi = round(r.uniform(-0.9, -0.1), 2), round(r.uniform(0.1, 0.9), 2)
        e = fn_call("select", binop("<", x, float_lit(lo)), float_lit(lo),
                    fn_call("select", binop(">", x, float_lit(hi)), float_lit(hi), x))
    elif variant == "piecewise":
        t = round(r.uniform(-0.5, 0.5), 2)
        e = fn_call("select", binop(r.choice(("<", "<=", ">", ">=")), x, float_lit(t)),
                    g.ew(leaves, dtype, 2), g.ew(leaves, dtype, 2))
    elif variant == "parity":
        v = r.choice(vars_)
        cond = binop("==", binop("%", ref(v), int_lit(2)), int_lit(0)) if r.random() < 0.5 else \
            binop("<", ref(v), binop("/", ref(dims[vars_.index(v)]), int_lit(2)))
        e = fn_call("select", cond, g.ew(leaves, dtype, 2), g.ew(leaves, dtype, 2))
    elif variant == "where":
        mask, b = access_pair(tensors[0]), access_pair(tensors[1])  # where(mask, B, f(...))
        e = fn_call("select", binop(r.choice((">", "<", ">=", "<=", "!=")), mask, g.zero(dtype)),
                    b, g.ew(leaves, dtype, 1))
    else:
        e = _nested_select(g, tensors, leaves, dtype, r.randint(1, 3))
    e = g.use_all(e, tensors, scalars)
    out = g.out()
    return f"sel_{variant}", kernel_of(params, [param_of(out, dtype, dims)], [statement(out, vars_, e)])


def _cond(g: ProgramBuilder, tensors, dtype) -> N.Expr:
    """A condition on raw leaves only: kernel and interpreter agree on it exactly."""
    r = g.rng
    a = access_pair(r.choice(tensors))
    if r.random() < 0.5 and len(tensors) > 1:
        b = access_pair(r.choice(tensors))
    else:
        b = g.const(dtype, 0, 3) if r.random() < 0.5 else g.zero(dtype)
    c = binop(r.choice(("<", "<=", ">", ">=", "==", "!=")), a, b)
    k = r.random()
    if k < 0.2:
        return N.Unary("not", c)
    if k < 0.45:
        return binop(r.choice(("and", "or")), c, _cond(g, tensors, dtype) if r.random() < 0.3 else
                     binop(r.choice(("<", ">")), access_pair(r.choice(tensors)), g.zero(dtype)))
    return c


def _nested_select(g: ProgramBuilder, tensors, leaves, dtype, depth) -> N.Expr:
    if depth <= 0:
        return g.ew(leaves, dtype, 1)
    return fn_call("select", _cond(g, tensors, dtype), _nested_select(g, tensors, leaves, dtype, depth - 1),
                   _nested_select(g, tensors, leaves, dtype, depth - 1 - (g.rng.random() < 0.5)))


# ---------------------------------------------------------------- transform
def cat_transform(g: ProgramBuilder):
    r = g.rng
    variant = r.choice(("transpose", "permute3", "flip", "stride", "crop", "pad", "concat", "upsample",
                        "bcast_col", "reshape", "diag", "flip_t"))
    dtype = g.dtype()
    X, Y = g.inp(), g.out()
    scale = (lambda e: binop("*", g.const(dtype, 0.5, 2.0 if dtype != "i32" else 3), e)) \
        if r.random() < 0.3 else (lambda e: e)
    return TRANSFORMS[variant](g, variant, dtype, X, Y, scale)


# Each transform variant: (builder, variant, dtype, input X, output Y, optional scaling of the moved
# value) -> (variant, kernel).
Scale = Callable[[N.Expr], N.Expr]


def _transpose(g: ProgramBuilder, variant: str, dtype: str, X: str, Y: str, scale: Scale):
    H, W = g.size(2), g.size(2)
    i, j = g.idx(2)
    return variant, kernel_of([param_of(X, dtype, [H, W])], [param_of(Y, dtype, [W, H])],
                              [statement(Y, [i, j], scale(access(X, j, i)))])


def _permute3(g: ProgramBuilder, variant: str, dtype: str, X: str, Y: str, scale: Scale):
    ds = [g.size(3) for _ in range(3)]
    vs = g.idx(3)
    perm = [0, 1, 2]
    while perm == [0, 1, 2]:
        g.rng.shuffle(perm)
    # Y[v0, v1, v2] = X[...] where X dim perm[a] is Y dim a
    xdims = [None] * 3
    xidx = [None] * 3
    for a in range(3):
        xdims[perm[a]] = ds[a]
        xidx[perm[a]] = vs[a]
    return variant, kernel_of([param_of(X, dtype, xdims)], [param_of(Y, dtype, ds)],
                              [statement(Y, vs, scale(access(X, *xidx)))])


def _flip(g: ProgramBuilder, variant: str, dtype: str, X: str, Y: str, scale: Scale):
    r = g.rng
    rank = r.randint(1, 2)
    ds = [g.size(rank) for _ in range(rank)]
    vs = g.idx(rank)
    ax = r.randrange(rank)
    idx = [(binop("-", binop("-", ref(ds[a]), int_lit(1)), ref(vs[a])) if a == ax else ref(vs[a]))
           for a in range(rank)]
    if variant == "flip_t" and rank == 2:
        return variant, kernel_of([param_of(X, dtype, ds)], [param_of(Y, dtype, ds[::-1])],
                                  [statement(Y, vs[::-1], scale(access(X, *idx)))])
    return "flip", kernel_of([param_of(X, dtype, ds)], [param_of(Y, dtype, ds)],
                             [statement(Y, vs, scale(access(X, *idx)))])


def _stride(g: ProgramBuilder, variant: str, dtype: str, X: str, Y: str, scale: Scale):
    r = g.rng
    s = r.randint(2, 4)
    o = r.randrange(s)
    Nn = g.size(1, lo=s)
    (i,) = g.idx(1)
    ix = binop("*", int_lit(s), ref(i))
    if o:
        ix = binop("+", ix, int_lit(o))
    return variant, kernel_of([param_of(X, dtype, [Nn])], [param_of(Y, dtype, [binop("/", ref(Nn), int_lit(s))])],
                              [statement(Y, [i], scale(access(X, ix)))])


def _crop(g: ProgramBuilder, variant: str, dtype: str, X: str, Y: str, scale: Scale):
    r = g.rng
    H, W = g.size(2, lo=4), g.size(2, lo=4)
    i, j = g.idx(2)
    a, b = r.randint(0, 3), r.randint(1, 3)
    return variant, kernel_of([param_of(X, dtype, [H, W])],
                              [param_of(Y, dtype, [binop("-", ref(H), int_lit(a)) if a else H,
                                                   binop("-", ref(W), int_lit(b))])],
                              [statement(Y, [i, j], scale(access(X, shifted(i, a), shifted(j, b))))])


def _pad(g: ProgramBuilder, variant: str, dtype: str, X: str, Y: str, scale: Scale):
    r = g.rng
    p = r.randint(1, 3)
    Nn = g.size(1, hi=max(1, g.lim.max_elements - 2 * p))
    (i,) = g.idx(1)
    cond = binop("and", binop(">=", ref(i), int_lit(p)), binop("<", ref(i), binop("+", ref(Nn), int_lit(p))))
    fill = g.zero(dtype) if r.random() < 0.7 else g.const(dtype, 0.5, 2)
    return variant, kernel_of([param_of(X, dtype, [Nn])],
                              [param_of(Y, dtype, [binop("+", ref(Nn), int_lit(2 * p))])],
                              [statement(Y, [i], fn_call("select", cond, scale(access(X, shifted(i, -p))), fill))])


def _concat(g: ProgramBuilder, variant: str, dtype: str, X: str, Y: str, scale: Scale):
    A2 = X
    B2 = g.inp()
    Na = g.size(1, hi=max(1, g.lim.max_elements // 2))
    Nb = g.size(1, hi=max(1, g.lim.max_elements // 2))
    (i,) = g.idx(1)
    return variant, kernel_of([param_of(A2, dtype, [Na]), param_of(B2, dtype, [Nb])],
                              [param_of(Y, dtype, [binop("+", ref(Na), ref(Nb))])],
                              [statement(Y, [i], fn_call("select", binop("<", ref(i), ref(Na)), access(A2, i),
                                                         access(B2, binop("-", ref(i), ref(Na)))))])


def _upsample(g: ProgramBuilder, variant: str, dtype: str, X: str, Y: str, scale: Scale):
    s = g.rng.randint(2, 3)
    H, W = g.size(2, hi=max(1, int(g.lim.max_elements ** 0.5) // s)), \
        g.size(2, hi=max(1, int(g.lim.max_elements ** 0.5) // s))
    i, j = g.idx(2)
    return variant, kernel_of([param_of(X, dtype, [H, W])],
                              [param_of(Y, dtype, [binop("*", ref(H), int_lit(s)), binop("*", ref(W), int_lit(s))])],
                              [statement(Y, [i, j], scale(access(X, binop("/", ref(i), int_lit(s)),
                                                                 binop("/", ref(j), int_lit(s)))))])


def _bcast_col(g: ProgramBuilder, variant: str, dtype: str, X: str, Y: str, scale: Scale):
    H, W = g.size(2), g.size(2)
    i, j = g.idx(2)
    return variant, kernel_of([param_of(X, dtype, [H])], [param_of(Y, dtype, [H, W])],
                              [statement(Y, [i, j], scale(access(X, i)))])


def _reshape(g: ProgramBuilder, variant: str, dtype: str, X: str, Y: str, scale: Scale):
    H, W = g.size(2), g.size(2)
    i, j = g.idx(2)
    return variant, kernel_of([param_of(X, dtype, [binop("*", ref(H), ref(W))])], [param_of(Y, dtype, [H, W])],
                              [statement(Y, [i, j], scale(access(X, binop("+", binop("*", ref(i), ref(W)),
                                                                          ref(j)))))])


def _diag(g: ProgramBuilder, variant: str, dtype: str, X: str, Y: str, scale: Scale):
    Nn = g.size(2)
    (i,) = g.idx(1)
    return "diag", kernel_of([param_of(X, dtype, [Nn, Nn])], [param_of(Y, dtype, [Nn])],
                             [statement(Y, [i], scale(access(X, i, i)))])


TRANSFORMS = {"transpose": _transpose, "permute3": _permute3, "flip": _flip, "flip_t": _flip, "stride": _stride,
              "crop": _crop, "pad": _pad, "concat": _concat, "upsample": _upsample, "bcast_col": _bcast_col,
              "reshape": _reshape, "diag": _diag}
