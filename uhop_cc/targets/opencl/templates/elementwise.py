"""`elementwise`: every statement maps points to points; one fused, vectorised kernel.

Matches programs without reductions whose outputs all have the same shape (the iteration
space, rank >= 1) and whose accesses index with a contiguous, in-order run of the
statement's variables (`X[i, j]`, or broadcasts `b[j]`, `s[i]`, `m[i, j]` in a 3-D space),
or nothing (0-d inputs); scalars are fine. Temporaries are never stored: those with the
iteration shape live in registers, the others (broadcast temporaries) are substituted
inline at their uses.

Schedule: work-group G handles EPT * LOCAL chunks of VW consecutive flat elements,
work-item l the chunks (G * EPT + e) * LOCAL + l (consecutive work-items, consecutive
chunks); a full chunk is computed on floatVW vectors (vloadVW / vstoreVW, broadcast
operands gathered lane by lane), the last partial chunk element by element. VW > 1 needs
an f32 program built from arithmetic and math functions (see `base.vector_safe`);
anything else runs with VW = 1 through the generic expression code.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ....ir import nodes as N
from ....ir import symbolic
from ....ir.typed import BoundKernel
from ....codegen.cstyle import GeneratedKernel, c_name
from .base import (Match, NoMatch, Template, TemplateEmitter, device_kind, finish, index_ctype, index_var,
                   index_width, launch_expr, max_work_group, rename, reserved_clash, signature, tree_map,
                   vector_safe, vtype)

CANON = "_ux"


def _canon(d: int) -> str:
    return f"{CANON}{d}"


class ElementwiseTemplate(Template):
    name = "elementwise"

    # ------------------------------------------------------------ match
    def _match(self, bound: BoundKernel) -> Match:
        ck = bound.checked
        if reserved_clash(ck):
            raise NoMatch("identifiers starting with `_u` are reserved")
        for s in ck.body:
            if any(isinstance(n, N.Reduce) for n in N.walk(s.value)):
                raise NoMatch("elementwise programs have no reductions")
        outs = [ck.tensors[p.name] for p in ck.outputs]
        dims = outs[0].shape
        if not dims:
            raise NoMatch("0-d outputs are not elementwise")
        for o in outs[1:]:
            if o.rank != len(dims) or not all(symbolic.same(a, b) for a, b in zip(o.shape, dims)):
                raise NoMatch("all outputs must have the same shape")
        rank = len(dims)
        canon = [_canon(d) for d in range(rank)]
        total_launch = " * ".join(launch_expr(d) for d in dims)

        defs: Dict[str, Tuple[Tuple[str, ...], N.Expr]] = {}  # broadcast temps, inlined at uses
        full: List[str] = []  # tensors computed into registers, in order
        stmts: List[Tuple[str, N.Expr]] = []

        def inline(e: N.Expr) -> N.Expr:
            def fn(x):
                if isinstance(x, N.Access) and x.tensor in defs:
                    lhs, val = defs[x.tensor]
                    for idx in x.indices:
                        if not (isinstance(idx, N.Name) and idx.kind == "index"):
                            raise NoMatch("temporaries must be indexed by bare variables")
                    return rename(val, dict(zip(lhs, x.indices)))
                return None
            return tree_map(e, fn)

        for s in ck.body:
            info = ck.tensors[s.target]
            val = inline(s.value)
            is_full = info.rank == rank and all(symbolic.same(a, b) for a, b in zip(info.shape, dims))
            if is_full:
                val = rename(val, {v: index_var(c) for v, c in zip(s.indices, canon)})
                stmts.append((s.target, val))
                full.append(s.target)
            elif info.role == "output":
                raise NoMatch("outputs must have the iteration shape")
            else:
                defs[s.target] = (s.indices, val)
        # every access: a contiguous run of the canonical variables, in order
        for target, val in stmts:
            for n in N.walk(val):
                if not isinstance(n, N.Access):
                    continue
                names = []
                for idx in n.indices:
                    if not (isinstance(idx, N.Name) and idx.kind == "index"):
                        raise NoMatch("accesses must index with bare variables")
                    names.append(idx.name)
                if not names:
                    continue
                if names[0] not in canon:
                    raise NoMatch("unexpected index variable")
                a = canon.index(names[0])
                b = a + len(names)
                if names != canon[a:b]:
                    raise NoMatch("indices must be a contiguous run of the statement's variables, in order")
                tshape = ck.tensors[n.tensor].shape
                if not all(symbolic.same(x, y) for x, y in zip(tshape[1:], dims[a + 1:b])):
                    raise NoMatch(f"`{n.tensor}` does not have the broadcast shape of its index run")
                if n.tensor in full and (a, b) != (0, rank):
                    raise NoMatch("internal: register tensor read partially")
                if ck.tensors[n.tensor].role == "output" and n.tensor not in full:
                    raise NoMatch("an output is read before it is written")
        # liveness: outputs and register temps read later
        live = set(p.name for p in ck.outputs)
        kept: List[Tuple[str, N.Expr]] = []
        for target, val in reversed(stmts):
            if target in live:
                kept.append((target, val))
                live |= {n.tensor for n in N.walk(val) if isinstance(n, N.Access)}
        kept.reverse()
        vec_ok = all(ck.tensors[t].dtype == "f32" for t, _ in kept) and all(
            vector_safe(val, canon, lambda a: ck.tensors[a.tensor].dtype == "f32") for _, val in kept)
        total = 1
        for d in bound.shapes[outs[0].name]:
            total *= d
        return Match(self.name, bound, {"stmts": kept, "rank": rank, "dims": dims, "vector": vec_ok,
                                        "launch_total": total_launch, "total": total})

    # ------------------------------------------------------------ space
    def space(self, match: Match, device_fingerprint: Optional[dict] = None) -> List[dict]:
        kind = device_kind(device_fingerprint)
        wg = max_work_group(device_fingerprint, 256)
        vec = match.info["vector"]
        if kind == "CPU":
            # PoCL vectorises across work-items only without per-item loops: keep EPT at 1
            cands = [dict(VW=16, EPT=1, LOCAL=64), dict(VW=8, EPT=1, LOCAL=64), dict(VW=16, EPT=1, LOCAL=256),
                     dict(VW=1, EPT=1, LOCAL=64), dict(VW=16, EPT=4, LOCAL=64), dict(VW=4, EPT=1, LOCAL=128)]
        else:
            cands = [dict(VW=4, EPT=1, LOCAL=256), dict(VW=4, EPT=4, LOCAL=256), dict(VW=8, EPT=1, LOCAL=128),
                     dict(VW=1, EPT=1, LOCAL=256), dict(VW=1, EPT=4, LOCAL=128), dict(VW=16, EPT=1, LOCAL=64)]
        out = []
        for p in cands:
            p = dict(p, LOCAL=min(p["LOCAL"], wg))
            if not vec:
                p["VW"] = 1
            if p not in out:
                out.append(p)
        return out

    # ------------------------------------------------------------ render
    def render(self, match: Match, params: Optional[dict] = None) -> GeneratedKernel:
        p = dict(params or self.space(match)[0])
        VW, EPT, LOCAL = int(p.get("VW", 1)), int(p.get("EPT", 1)), int(p.get("LOCAL", 64))
        if VW not in (1, 2, 4, 8, 16) or EPT < 1 or LOCAL < 1:
            raise ValueError(f"invalid elementwise parameters {p}")
        if VW > 1 and not match.info["vector"]:
            raise ValueError("this program cannot be vectorised: use VW=1")
        ck = match.checked
        info = match.info
        bits = index_width(match, p)
        it = index_ctype(bits)  # flat element offsets and sizes; `int` unless the shape passes 2^31 - 1
        rank, dims = info["rank"], info["dims"]
        canon = [_canon(d) for d in range(rank)]
        em0 = TemplateEmitter(ck, index_bits=bits)
        cdims = [em0.int_expr(d) for d in dims]
        total = " * ".join(f"({d})" for d in cdims)

        def prod(ds):
            return " * ".join(f"({d})" for d in ds) if ds else "1"

        def run_of(acc: N.Access) -> Tuple[int, int]:
            a = canon.index(acc.indices[0].name)
            return a, a + len(acc.indices)

        def flat(acc: N.Access, g: str) -> str:
            a, b = run_of(acc)
            x = g
            if b < rank:
                x = f"({x} / ({prod(cdims[b:])}))"
            if a > 0:
                x = f"({x} % ({prod(cdims[a:b])}))"
            return x

        regs = {t: f"_ut_{t}" for t, _ in info["stmts"]}

        def scalar_hook(g: str):
            def hook(acc: N.Access) -> Optional[str]:
                if acc.tensor in regs:
                    return regs[acc.tensor]
                if not acc.indices:
                    return None
                return em0.r.load(c_name(acc.tensor), flat(acc, g), ck.tensors[acc.tensor].dtype)
            return hook

        def vector_hook(acc: N.Access) -> Optional[str]:
            if acc.tensor in regs:
                return regs[acc.tensor]
            if not acc.indices:
                return None
            a, b = run_of(acc)
            ptr = c_name(acc.tensor)
            if (a, b) == (0, rank):
                return f"vload{VW}(0, {ptr} + _ub)"
            items = ", ".join(f"{ptr}[{flat(acc, f'(_ub + {l})')}]" for l in range(VW))
            return f"(({vtype('float', VW)})({items}))"

        def body(hook, vector: int, g: str, ind: str) -> List[str]:
            em = TemplateEmitter(ck, access=hook, vector=vector, varying=canon, index_bits=bits)
            lines: List[str] = []
            if vector == 1:
                rest = g
                for d in range(rank - 1, -1, -1):
                    v = c_name(canon[d])
                    if d == 0:
                        lines.append(f"{ind}const {it} {v} = {rest};")
                    else:
                        lines.append(f"{ind}const {it} {v} = {rest} % ({cdims[d]});")
                        rest = f"(({rest}) / ({cdims[d]}))"
            for t, val in info["stmts"]:
                dtype = ck.tensors[t].dtype
                v = em.value(val, lines, ind)
                ctype = em.r.ctype(dtype) if vector == 1 else vtype("float", vector)
                lines.append(f"{ind}const {ctype} {regs[t]} = {v};")
                if ck.tensors[t].role == "output":
                    if vector == 1:
                        lines.append(ind + em.r.store(c_name(t), g, regs[t], dtype))
                    else:
                        lines.append(f"{ind}vstore{vector}({regs[t]}, 0, {c_name(t)} + {g});")
            return lines

        L: List[str] = []
        w = L.append
        w(f"// @launch global=(roundup(cdiv({info['launch_total']}, {VW * EPT}), {LOCAL})) local=({LOCAL})")
        w(signature(ck, ck.name, False, f"__attribute__((reqd_work_group_size({LOCAL}, 1, 1)))", bits) + "\n{")
        w(f"    const {it} _utotal = {total};")
        w(f"    const {it} _ublock = ({it})get_group_id(0) * {EPT * LOCAL} + ({it})get_local_id(0);")
        ind = "    "
        if EPT > 1:
            w(f"    for (int _ue = 0; _ue < {EPT}; ++_ue) {{")
            ind = "        "
        w(f"{ind}const {it} _ub = (_ublock{' + _ue * ' + str(LOCAL) if EPT > 1 else ''}) * {VW};")
        if VW == 1:
            w(f"{ind}if (_ub < _utotal) {{")
            L.extend(body(scalar_hook("_ub"), 1, "_ub", ind + "    "))
            w(f"{ind}}}")
        else:
            w(f"{ind}if (_ub + {VW} <= _utotal) {{")
            L.extend(body(vector_hook, VW, "_ub", ind + "    "))
            w(f"{ind}}} else if (_ub < _utotal) {{")
            w(f"{ind}    for ({it} _ug = _ub; _ug < _utotal; ++_ug) {{")
            L.extend(body(scalar_hook("_ug"), 1, "_ug", ind + "        "))
            w(f"{ind}    }}")
            w(f"{ind}}}")
        if EPT > 1:
            w("    }")
        w("}")
        used = {"VW": VW, "EPT": EPT, "LOCAL": LOCAL}
        if bits == 64:
            used["index_bits"] = 64
        return finish(match, ["\n".join(L)], self.name, used)


TEMPLATE = ElementwiseTemplate()
