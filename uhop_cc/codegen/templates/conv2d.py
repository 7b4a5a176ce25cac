"""`conv2d`: direct NCHW convolution, valid padding, stride 1, with an optional epilogue.

Matches one statement `Y[n, k, y, x] = epilogue(sum(c, r, s) X[n, c, y + r, x + s] * F[k, c, r, s])`
(factors in either order, `y + r` or `r + y`), f32, reduction ranges independent of the
output indices.

Schedule: work-item (tx, y, tk) computes KB output channels x XB consecutive output
columns of one output row: XB/XV floatXV accumulators per channel. For every (c, r, s)
the KB filter taps are loaded once into registers and reused across the XB columns, the
XB input values (vloadXV) across the KB channels. Work-items whose columns run past the
row end take a guarded scalar path; channel blocks past K read a clamped filter and do
not store. Launch: dim 0 column blocks (LX per group), dim 1 output rows, dim 2 images
x channel blocks (LK per group).
"""
from __future__ import annotations

from typing import List, Optional

from ...ir import nodes as N
from ...ir.typed import BoundKernel
from ..cstyle import GeneratedKernel, c_name
from .base import (Match, NoMatch, Template, TemplateEmitter, abi_args, compute_units, device_kind, finish,
                   index_names, lanes,
                   launch_expr, max_work_group, reserved_clash, store_helper, vtype)


def _plus_pair(e: N.Expr):
    if isinstance(e, N.Binary) and e.op == "+" and isinstance(e.lhs, N.Name) and isinstance(e.rhs, N.Name):
        return {e.lhs.name, e.rhs.name}
    return None


class Conv2dTemplate(Template):
    name = "conv2d"

    def _match(self, bound: BoundKernel) -> Match:
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
        return Match(self.name, bound, info)

    def space(self, match: Match, device_fingerprint: Optional[dict] = None) -> List[dict]:
        kind = device_kind(device_fingerprint)
        wg = max_work_group(device_fingerprint, 256)
        if kind == "CPU":
            cands = [dict(KB=8, XB=16, XV=16, LX=1, LK=1), dict(KB=4, XB=16, XV=16, LX=1, LK=1),
                     dict(KB=8, XB=8, XV=8, LX=1, LK=1), dict(KB=4, XB=32, XV=16, LX=1, LK=1),
                     dict(KB=16, XB=8, XV=8, LX=1, LK=1), dict(KB=2, XB=4, XV=4, LX=4, LK=2)]
        else:
            cands = [dict(KB=8, XB=4, XV=4, LX=16, LK=8), dict(KB=8, XB=8, XV=4, LX=8, LK=8),
                     dict(KB=4, XB=2, XV=2, LX=32, LK=4), dict(KB=4, XB=1, XV=1, LX=32, LK=8),
                     dict(KB=2, XB=1, XV=1, LX=64, LK=2), dict(KB=1, XB=1, XV=1, LX=64, LK=1)]
            # the most work per item that still leaves ~300 items per compute unit (H100: best of those tried)
            n, k, oh, ow = match.info["shape"]
            want = 300 * compute_units(device_fingerprint)
            items = lambda p: n * oh * -(-k // p["KB"]) * -(-ow // p["XB"])  # noqa: E731
            fit = [p for p in cands if items(p) >= want]
            first = max(fit, key=lambda p: p["KB"] * p["XB"]) if fit else cands[-2]
            cands.remove(first)
            cands.insert(0, first)
        out = [p for p in cands if p["LX"] * p["LK"] <= wg]
        return out or [dict(KB=1, XB=1, XV=1, LX=1, LK=1)]

    def render(self, match: Match, params: Optional[dict] = None) -> GeneratedKernel:
        p = dict(params or self.space(match)[0])
        KB, XB, XV, LX, LK = (int(p.get(k, 1)) for k in ("KB", "XB", "XV", "LX", "LK"))
        if min(KB, XB, XV, LX, LK) < 1 or XV not in (1, 2, 4, 8, 16) or XB % XV:
            raise ValueError(f"invalid conv2d parameters {p}")
        ck = match.checked
        info = match.info
        s: N.Stmt = info["stmt"]
        red = info["red"]
        em = TemplateEmitter(ck)
        ie = em.int_expr
        Yd = [ie(d) for d in ck.tensors[s.target].shape]
        Xd = [ie(d) for d in ck.tensors[info["X"]].shape]
        Fd = [ie(d) for d in ck.tensors[info["F"]].shape]
        Xp, Fp = c_name(info["X"]), c_name(info["F"])
        NV = XB // XV
        ft = vtype("float", XV)
        la = info["launch"]  # N, K, OH, OW
        L: List[str] = []
        w = L.append
        w(f"// @launch global=(cdiv({la[3]}, {XB * LX}) * {LX}, {la[2]}, {la[0]} * cdiv({la[1]}, {KB * LK}) * {LK}) "
          f"local=({LX}, 1, {LK})")
        args = abi_args(ck)
        w(f"__kernel __attribute__((reqd_work_group_size({LX}, 1, {LK}))) void {ck.name}("
          + ",\n    ".join(d for d, _ in args) + ")\n{")
        w(f"    const int _uN = {Yd[0]}, _uK = {Yd[1]}, _uOH = {Yd[2]}, _uOW = {Yd[3]};")
        w(f"    const int _uKT = ({Yd[1]} + {KB * LK - 1}) / {KB * LK};")
        w("    const int _ug2 = (int)get_group_id(2);")
        w("    const int _un = _ug2 / _uKT;")
        w(f"    const int _uk0 = ((_ug2 % _uKT) * {LK} + (int)get_local_id(2)) * {KB};")
        w("    const int _uy = (int)get_global_id(1);")
        w(f"    const int _ux0 = (int)get_global_id(0) * {XB};")
        w("    if (_un >= _uN || _uy >= _uOH) return;")
        cv, rv, sv = info["c"], info["r"], info["s"]
        w(f"    const int _uclo = {ie(cv.lo)}, _uchi = {ie(cv.hi)};")
        w(f"    const int _urlo = {ie(rv.lo)}, _urhi = {ie(rv.hi)};")
        w(f"    const int _uslo = {ie(sv.lo)}, _ushi = {ie(sv.hi)};")
        # filter rows of this work-item's channels (clamped past K)
        for kb in range(KB):
            w(f"    __global const float* _uf{kb} = {Fp} + (size_t)min(_uk0 + {kb}, _uK - 1) * "
              f"({Fd[1]}) * ({Fd[2]}) * ({Fd[3]});")
        for kb in range(KB):
            w("    " + " ".join(f"{ft} _uacc{kb}_{v} = 0.0f;" for v in range(NV)))

        def nest(full: bool, ind: str):
            w(f"{ind}for (int _uc = _uclo; _uc < _uchi; ++_uc) {{")
            w(f"{ind}    for (int _ur = _urlo; _ur < _urhi; ++_ur) {{")
            w(f"{ind}        __global const float* _uxrow = {Xp} + ((size_t)(_un * ({Xd[1]}) + _uc) * ({Xd[2]}) "
              f"+ _uy + _ur) * ({Xd[3]}) + _ux0;")
            w(f"{ind}        const int _ufo = (_uc * ({Fd[2]}) + _ur) * ({Fd[3]});")
            w(f"{ind}        for (int _us = _uslo; _us < _ushi; ++_us) {{")
            i2 = ind + "            "
            for v in range(NV):
                if full:
                    if XV == 1:
                        w(f"{i2}const float _uxv{v} = _uxrow[_us + {v}];")
                    else:
                        w(f"{i2}const {ft} _uxv{v} = vload{XV}(0, _uxrow + _us + {v * XV});")
                else:
                    items = [f"(_ux0 + {v * XV + l} < _uOW ? _uxrow[_us + {v * XV + l}] : 0.0f)" for l in range(XV)]
                    w(f"{i2}const {ft} _uxv{v} = " + (items[0] if XV == 1 else f"(({ft})({', '.join(items)}))") + ";")
            for kb in range(KB):
                w(f"{i2}const float _uw{kb} = _uf{kb}[_ufo + _us];")
            for kb in range(KB):
                wv = f"_uw{kb}" if XV == 1 else f"(({ft})(_uw{kb}))"
                w(i2 + " ".join(f"_uacc{kb}_{v} = fma({wv}, _uxv{v}, _uacc{kb}_{v});" for v in range(NV)))
            w(f"{ind}        }}")
            w(f"{ind}    }}")
            w(f"{ind}}}")

        w(f"    if (_ux0 + {XB} <= _uOW) {{")
        nest(True, "        ")
        w("    } else {")
        nest(False, "        ")
        w("    }")
        call = ", ".join(a for _, a in args)
        for kb in range(KB):
            w(f"    if (_uk0 + {kb} < _uK) {{")
            for v in range(NV):
                for l, lane in enumerate(lanes(f"_uacc{kb}_{v}", XV)):
                    xo = v * XV + l
                    w(f"        if (_ux0 + {xo} < _uOW) {ck.name}__ustore({call}, _un, _uk0 + {kb}, _uy, "
                      f"_ux0 + {xo}, {lane});")
            w("    }")
        w("}")
        helper = store_helper(ck, s, red, list(info["vars"]), f"{ck.name}__ustore")
        return finish(match, [helper, "\n".join(L)], self.name, {"KB": KB, "XB": XB, "XV": XV, "LX": LX, "LK": LK})


TEMPLATE = Conv2dTemplate()
