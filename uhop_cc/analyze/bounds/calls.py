"""Calls: work-item ids, memory and integer built-ins, and helper functions analysed inline."""
from __future__ import annotations

import re
from typing import Optional

from .syntax import Node
from .values import add, cp, cst, DATA, Env, F, hull, minmax, mul, neg, P, unk, V
from .evaluate import Eval, ID_FUNCS, INT_FUNCS


_VMEM = re.compile(r"(vload|vstore)(a?_half)?(\d*)(_rt[enzp])?$")
_ATOMIC = re.compile(r"(atomic|atom)(_\w+|[A-Z]\w*)$")
_LDST = {"__ldg": 0, "__ldcg": 0, "__ldca": 0, "__ldcs": 0, "__ldlu": 0, "__ldcv": 0,
         "__stcg": 1, "__stcs": 1, "__stwb": 1, "__stwt": 1}
_OUT_PTR = {"fract", "modf", "sincos", "sincosf", "sincospi", "sincospif", "frexp", "frexpf", "lgamma_r", "remquo",
            "remquof", "modff", "fractf"}
_NO_MEM = {"printf", "prefetch", "barrier", "work_group_barrier", "mem_fence", "read_mem_fence", "write_mem_fence",
           "__syncthreads", "__syncwarp", "wait_group_events", "__threadfence", "__threadfence_block"}


class Calls(Eval):
    """Built-ins (work-item ids, memory built-ins, integer built-ins) and inlined helper calls."""

    # ---- calls
    def ids(self, kind: str, d: Optional[int], env: Env) -> V:
        if d is None or not 0 <= d < 3:
            return V(0, max(self.G) - 1) if kind in ("gid", "lid", "grp") else V(1, max(self.G))
        g, loc = self.G[d], (self.Lc[d] if self.Lc else None)
        even = loc is not None and g % loc == 0
        if kind == "gsz":
            return cst(g)
        if kind == "lsz":
            return cst(loc) if loc else V(1, max(g, 1))
        if kind == "ngr":
            return cst(-(-g // loc)) if loc else V(1, max(g, 1))
        if kind == "zero":
            return cst(0)
        ident = f"{kind}{d}"
        if ident in env.bases:
            return env.bases[ident]
        if kind == "gid":
            v = V(0, g - 1, True, True, deps=frozenset({f"g{d}", f"l{d}"}), ident=ident)
        elif kind == "lid":
            v = V(0, (loc or g) - 1, even, even, deps=frozenset({f"l{d}"}), ident=ident)
        else:
            v = V(0, (-(-g // loc) if loc else g) - 1, even, even, deps=frozenset({f"g{d}"}), ident=ident)
        return cp(v, ex=False) if v.deps & env.taint.keys() else v

    def e_call(self, n, env):
        name, args = n.v, n.a[1:]
        funcs = self.prog.funcs if self.prog is not None else {}
        if name in ID_FUNCS and name not in funcs:
            d = self.ev(args[0], env) if args else cst(0)
            return self.ids(ID_FUNCS[name], int(d.lo) if isinstance(d, V) and d.m == 0 else None, env)
        if name in funcs:
            return self.inline(name, args, env, n)
        vals = [self.ev(a, env) for a in args]
        r = self.mem_call(name or "", vals, n, env)
        if r is not None:
            return r
        if name in INT_FUNCS:
            return self.int_call(name, vals)
        if name in ("__builtin_assume_aligned",) and vals:
            return vals[0]
        if name not in _NO_MEM:
            for v in vals:
                if isinstance(v, P):
                    self.lost(v, n, True, f"a pointer is passed to {name or 'a function'}() which the analysis "
                                          f"does not follow")
        return unk(*vals, fl=True)

    def mem_call(self, name: str, vals: list, n: Node, env: Env):
        m = _VMEM.match(name)
        if m and len(vals) >= 2:
            load = m.group(1) == "vload"
            lanes = int(m.group(3) or 1)
            p, i = (vals[1], vals[0]) if load else (vals[2] if len(vals) > 2 else None, vals[1])
            if not isinstance(p, P) or not isinstance(i, V):
                self.lost(p, n, not load, "through a pointer the analysis cannot follow")
            else:
                q = P(p.buf, add(p.off, mul(unk(i) if i.fl else i, cst(lanes * p.es))), lanes * p.es, (), p.chk)
                self.access(q, lanes * p.es, not load, n, env)
            return V(deps=DATA, fl=True)
        if (_ATOMIC.match(name) or name in _LDST or name in _OUT_PTR) and vals:
            ptrs = [v for v in vals if isinstance(v, P)] if name in _OUT_PTR else vals[:1]
            write = _LDST.get(name, 1) == 1 and "load" not in name
            for p in ptrs:
                if isinstance(p, P):
                    self.access(p if not p.dims else self.index(p, cst(0)), p.es, write, n, env)
            return V(deps=DATA) if name not in _OUT_PTR else F
        if name in ("async_work_group_copy", "async_work_group_strided_copy", "memcpy", "memset") and \
                len(vals) >= 3 and isinstance(vals[2], V):
            for k, p in enumerate(vals[:2]):
                if not isinstance(p, P):
                    continue
                count = vals[2] if name != "memset" else vals[2]
                es = 1 if name in ("memcpy", "memset") else p.es
                if name == "async_work_group_strided_copy" and p.buf is not None and p.buf.abi and len(vals) > 3:
                    count = add(mul(add(vals[2], cst(-1)), vals[3]), cst(1))
                span = add(p.off, mul(add(count, cst(-1)), cst(es)))
                self.access(P(p.buf, hull([(p.off, False), (span, False)]), es), es, k == 0, n, env)
                if name == "memset":
                    break
            return V(deps=DATA)
        return None

    def int_call(self, name: str, vals: list) -> V:
        v = [x if isinstance(x, V) else V(deps=DATA) for x in vals]
        if name == "get_work_dim":
            return cst(self.dims)
        if any(x.fl for x in v) or not v:
            return unk(*v, fl=True)
        if name.endswith("min") or name.endswith("max"):
            return minmax(v[0], v[1], name.endswith("min")) if len(v) == 2 else unk(*v)
        if name == "clamp" and len(v) == 3:
            return minmax(minmax(v[0], v[1], False), v[2], True)
        if name in ("abs", "labs", "llabs"):
            a = v[0]
            return a if a.lo >= 0 else neg(a) if a.hi <= 0 else V(0, max(-a.lo, a.hi), deps=a.deps)
        if name in ("mad24", "mad") and len(v) == 3:
            return add(mul(v[0], v[1]), v[2])
        if name in ("mul24", "__mul24", "__umul24") and len(v) == 2:
            return mul(v[0], v[1])
        if name == "select" and len(v) == 3:
            return cp(hull([(v[0], False), (v[1], False)]), deps=v[0].deps | v[1].deps | v[2].deps)
        return unk(*v)

    def inline(self, name: str, args: tuple, env: Env, n: Node):
        vals = [self.ev(a, env) for a in args]
        fn = self.prog.funcs[name]
        body = self.prog.body(fn)
        if body is None or len(self.calls) >= 8 or any(c[0] == name for c in self.calls):
            for v in vals:
                if isinstance(v, P):
                    self.lost(v, n, True, f"a pointer is passed to {name}() which the analysis cannot follow")
            return V(deps=DATA, fl=True)
        callee = Env()
        callee.bases, callee.taint, callee.gok, callee.fok = env.bases, dict(env.taint), env.gok, env.fok
        saved = (self.vtypes, self.ctl)
        self.vtypes, self.ctl = {}, []
        for (pname, pt), v in zip(fn.params, vals):
            self.vtypes[pname] = pt
            self.setvar(pname, v, callee)
        self.calls.append((name, n.line))
        self.rets.append([])
        try:
            self.exec(body, callee)
        finally:
            rets = self.rets.pop()
            self.calls.pop()
            self.vtypes, self.ctl = saved
        if not rets:
            return V(deps=DATA, fl=True)
        v = hull([(r, False) for r in rets])
        return cp(v, ex=False, dn=False) if isinstance(v, V) else v
