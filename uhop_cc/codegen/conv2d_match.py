"""Recognising a 2-D convolution, for every target's conv2d template:
`Y[n, k, y, x] = epilogue(sum(c, r, s) X[n, c, y + r, x + s] * F[k, c, r, s])` (factors in either
order, `y + r` or `r + y`), f32, reduction ranges independent of the output indices."""
from __future__ import annotations

from ..ir import nodes as N
from ..ir.typed import BoundKernel
from .cstyle import c_name
from .template import Match, NoMatch, index_names, launch_expr, reserved_clash

__all__ = ["match_conv2d", "operands"]


def operands(match: Match, em) -> tuple:
    """C text of the output's, the input's and the filter's dims (lists of four), and the input and
    filter pointer names, for a conv2d match (`em`: the target's expression emitter)."""
    ck, info = match.checked, match.info
    dims = [[em.int_expr(d) for d in ck.tensors[t].shape] for t in (info["stmt"].target, info["X"], info["F"])]
    return (*dims, c_name(info["X"]), c_name(info["F"]))


def _plus_pair(e: N.Expr):
    if isinstance(e, N.Binary) and e.op == "+" and isinstance(e.lhs, N.Name) and isinstance(e.rhs, N.Name):
        return {e.lhs.name, e.rhs.name}
    return None


def match_conv2d(bound: BoundKernel, name: str = "conv2d") -> Match:
    """The conv2d match (raises NoMatch saying why not); every target's conv2d template uses it."""
    ck = bound.checked
    if reserved_clash(ck):
        raise NoMatch("identifiers starting with `_u` are reserved")
    if len(ck.body) != 1:
        raise NoMatch("conv2d needs a single statement")
    s = ck.body[0]
    out = ck.tensors[s.target]
    if out.role != "output" or out.dtype != "f32" or out.rank != 4:
        raise NoMatch("the target must be a 4-D f32 output")
    reds = [n for n in N.walk(s.value) if isinstance(n, N.Reduce)]
    if len(reds) != 1:
        raise NoMatch("exactly one reduction expected")
    red = reds[0]
    if red.op != "sum" or len(red.vars) != 3 or red.dtype != "f32":
        raise NoMatch("the reduction must be an f32 sum over three variables")
    for v in red.vars:
        if index_names(v.lo) or index_names(v.hi):
            raise NoMatch("reduction ranges must not depend on the output indices")
    body = red.body
    if not (isinstance(body, N.Binary) and body.op == "*"
            and isinstance(body.lhs, N.Access) and isinstance(body.rhs, N.Access)):
        raise NoMatch("the reduction body must be the product of two accesses")
    n, k, y, x = s.indices
    rvars = {v.name for v in red.vars}
    if len({n, k, y, x} | rvars) != 7:
        raise NoMatch("index variables must be distinct")
    accs = [body.lhs, body.rhs]
    bare = [all(isinstance(i, N.Name) for i in a.indices) for a in accs]
    if sorted(bare) != [False, True]:
        raise NoMatch("expected one input access with shifted indices and one filter access")
    F = accs[bare.index(True)]
    X = accs[bare.index(False)]
    for a in (X, F):
        t = ck.tensors[a.tensor]
        if t.role != "input" or t.dtype != "f32" or t.rank != 4:
            raise NoMatch("operands must be 4-D f32 inputs")
    fi = [i.name for i in F.indices]
    if fi[0] != k or set(fi[1:]) != rvars:
        raise NoMatch("the filter must be indexed [k, c, r, s]")
    c, r, s_ = fi[1:]
    xi = X.indices
    if not (isinstance(xi[0], N.Name) and xi[0].name == n and isinstance(xi[1], N.Name) and xi[1].name == c):
        raise NoMatch("the input must be indexed [n, c, y + r, x + s]")
    if _plus_pair(xi[2]) != {y, r} or _plus_pair(xi[3]) != {x, s_}:
        raise NoMatch("the input must be indexed [n, c, y + r, x + s] (valid padding, stride 1)")
    launch = [launch_expr(d) for d in out.shape]
    rng = {v.name: v for v in red.vars}
    info = {"stmt": s, "red": red, "X": X.tensor, "F": F.tensor, "vars": (n, k, y, x), "c": rng[c], "r": rng[r],
            "s": rng[s_], "launch": launch, "shape": bound.shapes[s.target]}
    return Match(name, bound, info)
