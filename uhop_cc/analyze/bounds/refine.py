"""Refinement of states by the guards the analysis understands, and joins of states."""
from __future__ import annotations

from typing import Optional

from .syntax import Node
from .values import add, cmp, CMPS, cp, cst, DATA, Env, floor, hull, narrow, NEG, neg, NOD, P, SWAP, truth_of, V
from .evaluate import CUDA_IDS, ID_FUNCS
from .calls import Calls


class Refine(Calls):
    """Guards: the state of the work-items for which a condition holds, and joins of states."""

    # ---- guards
    def refine(self, env: Env, c: Node, truth: bool) -> Optional[Env]:
        """The state of the work-items for which `c` is `truth` (None: no such work-item)."""
        k = c.k
        if k == "un" and c.v == "!":
            return self.refine(env, c.a[0], not truth)
        if k == "log":
            if (c.v == "&&") == truth:
                e = self.refine(env, c.a[0], truth)
                return self.refine(e, c.a[1], truth) if e is not None else None
            e1 = self.refine(env, c.a[0], truth)
            e2 = self.refine(env, c.a[0], not truth)
            e2 = self.refine(e2, c.a[1], truth) if e2 is not None else None
            return self.join(env, [e1, e2], False)
        if self.effects(c) or k == "comma":
            return self.vague(env)
        if k == "bin" and c.v in CMPS:
            return self.refine_cmp(env, c, c.v if truth else NEG[c.v])
        if k == "cast" and c.v.kind == "int":
            return self.refine(env, c.a[0], truth)
        v = self.qev(c, env)
        t = truth_of(v)
        if t is not None:
            return env if t == truth else None
        if k == "id" and v.cond is not None and self.key(v.cond[0], env) == v.cond[1]:
            e = self.refine(env, v.cond[0], truth)
            return None if e is None else self.refine_cmp(e, Node("bin", "!=", (c, Node("num", 0, (), 0)), 0),
                                                          "!=" if truth else "==")
        return self.refine_cmp(env, Node("bin", "!=", (c, Node("num", 0, (), 0)), c.line, c.s, c.e),
                               "!=" if truth else "==")

    def vague(self, env: Env) -> Env:
        e = env.copy()
        e.gok = False
        return e

    def refine_cmp(self, env: Env, c: Node, op: str) -> Optional[Env]:
        l, r = c.a
        lv, rv = self.qev(l, env), self.qev(r, env)
        if not (isinstance(lv, V) and isinstance(rv, V)):
            return self.vague(env)
        if (lv.lo < 0 or rv.lo < 0) and (self.unsigned(l, env) or self.unsigned(r, env)):
            # an unsigned comparison of a possibly negative value: only `x < B` with B >= 0 is followed
            side = (l, op, rv) if op in ("<", "<=") and rv.lo >= 0 else \
                (r, SWAP[op], lv) if op in (">", ">=") and lv.lo >= 0 else None
            if side is None:
                return self.vague(env)
            e = env.copy()
            s1 = self.refine_side(e, *side, nonneg=True)
            if s1 != "refined":
                e.gok = False
            return None if s1 == "empty" else e
        d = cmp(op, lv, rv)
        if d is None and l.key == r.key and self.key(l, env) == self.key(r, env) and not self.reads_memory(l):
            d = op in ("<=", ">=", "==")  # x op x
        if d is not None:
            return env if d else None
        e = env.copy()
        s1 = self.refine_side(e, l, op, rv)
        s2 = self.refine_side(e, r, SWAP[op], lv) if s1 != "empty" else s1
        if "empty" in (s1, s2):
            return None
        if "vague" in (s1, s2) or "unsure" in (s1, s2) or "refined" not in (s1, s2):
            e.gok = False
        return e

    def unsigned(self, n: Node, env: Env) -> bool:
        """C type of n is unsigned (casts, declarations, size_t builtins, CUDA ids, `u` literals)."""
        k = n.k
        if k == "cast":
            return n.v.unsigned
        if k == "id":
            t = self.vtypes.get(n.v)
            return bool(t and t.unsigned)
        if k == "num":
            return 0 <= n.s < len(self.prog.toks) and "u" in self.prog.toks[n.s][1].lower()
        if k == "call":
            return n.v in ID_FUNCS
        if k == "mem":
            return n.a[0].k == "id" and n.a[0].v in CUDA_IDS
        if k in ("bin", "tern") and n.v not in CMPS:
            return any(self.unsigned(x, env) for x in n.a[-2:])
        return False

    def refine_side(self, e: Env, node: Node, op: str, bound: V, nonneg: bool = False) -> str:
        """Refine the term of node = a * t + b by `node op bound` (and node >= 0 when nonneg)."""
        while node.k == "cast" and node.v.kind == "int":
            inner = self.qev(node.a[0], e)
            if isinstance(inner, V) and narrow(inner, node.v) is not inner:  # the conversion wraps
                if not (node.v.unsigned and op in ("<", "<=") and bound.lo >= 0):
                    return "vague"
                nonneg = True
            node = node.a[0]
        t, a, b = self.linear(node, e)
        if t is None:
            return "const"
        tv = self.qev(t, e)
        if not isinstance(tv, V) or tv.fl or bound.fl:
            return "vague"
        lo, hi = tv.lo, tv.hi
        if nonneg:
            lo, hi = (max(lo, -floor(b, a)), hi) if a > 0 else (lo, min(hi, floor(b, -a)))
        if a < 0:
            a, b, op, bound = -a, -b, SWAP[op], neg(bound)
        if op in ("<", "<=", "=="):
            hi = min(hi, floor(bound.hi - b - (op == "<"), a))
        if op in (">", ">=", "=="):
            lo = max(lo, -floor(-(bound.lo - b + (op == ">")), a))
        if op == "!=" and bound.m == 0 and a == 1:
            lo, hi = (lo + 1, hi) if bound.lo - b == lo else (lo, hi - 1) if bound.lo - b == hi else (lo, hi)
        if lo <= hi and tv.m > 1:  # keep to the congruence class
            snap = V(lo, hi, m=tv.m, r=tv.r)
            lo, hi = snap.lo, snap.hi
        if lo > hi:
            return "empty"
        if lo == tv.lo and hi == tv.hi:
            return "same" if not (tv.deps & DATA or bound.deps & DATA) else "vague"
        constb = bound.m == 0 and bound.ex
        nv = cp(tv, lo=lo, hi=hi, ex=tv.ex and tv.dn and constb, dn=tv.dn and constb)
        keep = self.put(e, t, tv, nv)
        owner = tv.ident or (("var", t.v, tv.did) if t.k == "id" else self.key(t, e))
        deps = tv.deps | (NOD if constb else bound.deps)
        # the work-items left are provably some: an attained value survives, the bound is independent,
        # and no other term constrained these dependencies before
        sure = (tv.dn or (tv.ex and (lo == tv.lo or hi == tv.hi))) and \
            (constb or (bound.ex and not tv.deps & bound.deps)) and \
            all(e.taint.get(d, owner) == owner for d in deps)
        self.taint(e, deps, keep, owner)
        return "vague" if (tv.deps | bound.deps) & DATA else "refined" if sure else "unsure"

    def linear(self, n: Node, env: Env) -> tuple:
        """n == a * t + b for constants a != 0, b (t None: n is a constant)."""
        if n.k == "bin" and n.v in ("+", "-", "*"):
            x, y = n.a
            for p, q, first in ((x, y, True), (y, x, False)):
                c = self.const(q, env)
                if c is None:
                    continue
                t, a, b = self.linear(p, env)
                if t is None or (n.v == "*" and c == 0):
                    return None, 0, 0
                if n.v == "*":
                    return t, a * c, b * c
                if n.v == "+" or first:
                    return t, a, b + c if n.v == "+" else b - c
                return t, -a, c - b
        if self.const(n, env) is not None:
            return None, 0, 0
        return n, 1, 0

    def put(self, e: Env, t: Node, tv: V, nv: V) -> set:
        """Store the refined value of term t: into its variable, its aliases and base, or as a fact."""
        names = [t.v] if t.k == "id" and t.v in e.vars else []
        if tv.ident:
            names += [x for x, v in e.vars.items() if isinstance(v, V) and v.ident == tv.ident and x not in names]
            e.bases[tv.ident] = cp(nv, cond=None, quot=None, did=0)
        for x in names:
            old = e.vars[x]
            e.vars[x] = cp(nv, cond=old.cond, quot=old.quot, did=old.did)
        if not names and not tv.ident:
            if self.reads_memory(t):  # memory may change: no fact about a load
                return set()
            k = self.key(t, e)
            e.facts[k] = nv
            if t.k == "bin" and t.v in ("+", "-"):
                ops = self.flat(t)
                shift = sum(sg * x.v for sg, x in ops if x.k == "num" and isinstance(x.v, int))
                if len(ops) - sum(x.k == "num" for _, x in ops) > 1 and all(
                        isinstance(x.v, int) for _, x in ops if x.k == "num"):
                    lk = self.lin_key(ops, e)
                    e.facts[lk] = add(nv, cst(-shift)) if shift else nv
                    return {k, lk}
            return {k}
        return set(names) | {tv.ident}

    def taint(self, e: Env, deps: frozenset, keep: set, owner=None) -> None:
        """Work-items were removed along `deps` (by term `owner`): values depending on them lose exactness."""
        if not deps:
            return
        for d in deps:
            e.taint[d] = owner if e.taint.get(d, owner) == owner else "*"
        for table in (e.vars, e.facts):
            for x, v in list(table.items()):
                if x in keep:
                    continue
                if isinstance(v, V) and v.ex and v.deps & deps:
                    table[x] = cp(v, ex=False, dn=False)
                elif isinstance(v, P) and v.off.ex and v.off.deps & deps:
                    q = P(v.buf, cp(v.off, ex=False, dn=False), v.es, v.dims, v.chk)
                    q.did = v.did
                    table[x] = q
        for b, v in list(e.bases.items()):
            if v.deps & deps and b not in keep:
                e.bases[b] = cp(v, ex=False, dn=False)

    def join(self, entry: Env, parts: list, clean: bool) -> Optional[Env]:
        """Merge paths. clean: together they are exactly the work-items of `entry` (same exits)."""
        parts = [p for p in parts if p is not None]
        if len(parts) <= 1:
            return parts[0] if parts else None
        out = Env()
        u = [p.gok and p.fok for p in parts]
        names = set(parts[0].vars).intersection(*[p.vars for p in parts[1:]])
        for x in names:
            vs = [p.vars[x] for p in parts]
            v0 = vs[0]
            same = all(v.did == v0.did for v in vs)
            if clean and same and getattr(entry.vars.get(x), "did", -1) == v0.did:
                out.vars[x] = entry.vars[x]
                continue
            h = hull(list(zip(vs, u)))
            if h is v0:
                out.vars[x] = v0
                continue
            if isinstance(h, V) and not same:
                h = cp(h, deps=h.deps | DATA, ex=False, dn=False)
            h.did = v0.did if same else self.fresh()
            if same:
                h.cond, h.quot = v0.cond, v0.quot
            out.vars[x] = h
        if clean:
            out.bases, out.facts, out.taint = dict(entry.bases), dict(entry.facts), dict(entry.taint)
            out.gok = entry.gok
            out.fok, out.exits = entry.fok and all(p.fok for p in parts), entry.exits
            return out
        for attr in ("bases", "facts"):
            tables = [getattr(p, attr) for p in parts]
            common = set(tables[0]).intersection(*tables[1:])
            setattr(out, attr, {k: hull([(t[k], ok) for t, ok in zip(tables, u)]) for k in common})
        out.taint = {}
        for p in parts:
            for d, o in p.taint.items():
                out.taint[d] = o if out.taint.get(d, o) == o else "*"
        out.gok, out.fok, out.exits = entry.gok, entry.fok and all(u), max(p.exits for p in parts) + 1
        return out
