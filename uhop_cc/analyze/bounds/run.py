"""Statements, branches and loops (fixpoints with widening): the walk of a kernel body."""
from __future__ import annotations

import math
from typing import Optional

from .lexer import Stop
from .syntax import ASSIGN, Func, Node, Type
from .values import Buf, cp, cst, DATA, Env, F, hull, INF, P, SWAP, U, V, widen, within
from .refine import Refine


class Run(Refine):
    """Statements and loops: the walk of one kernel body for one launch."""

    # ---- statements
    def exec(self, s: Optional[Node], env: Optional[Env]) -> Optional[Env]:
        if s is None or env is None:
            return env
        return getattr(self, "s_" + s.k)(s, env)

    def s_expr(self, s, env):
        self.ev(s.a[0], env)
        return env

    def s_nop(self, s, env):
        return env

    s_label = s_nop

    def s_bad(self, s, env):
        toks = self.prog.toks[s.s:s.e]
        for i, t in enumerate(toks):
            v = env.vars.get(t[1]) if t[0] == "id" else None
            if isinstance(v, P):
                self.lost(v, s, True, "a statement the analysis cannot read uses it")
            elif v is not None and ((i + 1 < len(toks) and toks[i + 1][1] in ASSIGN | {"++", "--"}) or
                                    (i > 0 and toks[i - 1][1] in ("++", "--", "&"))):
                self.setvar(t[1], V(deps=DATA), env)
        env.fok = False
        return env

    def s_block(self, s, env):
        saved: dict = {}
        taint0 = set(env.taint)
        for st in s.a:
            if st.k == "decl":
                for item in st.v:
                    saved.setdefault(item[0], env.vars.get(item[0]))
            env = self.exec(st, env)
            if env is None:
                return None
        self.restore(env, saved, taint0)
        return env

    @staticmethod
    def restore(env: Env, saved: dict, taint0: set) -> None:
        """Bring back the variables a scope shadowed (they missed the refinements made meanwhile)."""
        for name, old in saved.items():
            if old is None:
                env.vars.pop(name, None)
                continue
            if isinstance(old, V) and old.ident in env.bases:
                old = cp(env.bases[old.ident], ident=old.ident, did=old.did, cond=old.cond, quot=old.quot)
            elif isinstance(old, V) and old.ex and old.deps & (env.taint.keys() - taint0):
                old = cp(old, ex=False, dn=False)
            elif isinstance(old, P) and old.off.ex and old.off.deps & (env.taint.keys() - taint0):
                q = P(old.buf, cp(old.off, ex=False, dn=False), old.es, old.dims, old.chk)
                q.did, old = old.did, q
            env.vars[name] = old

    def s_decl(self, s, env):
        for name, t, dims, init, ext in s.v:
            if not dims:
                self.vtypes[name] = t
                val = self.ev(init, env) if init is not None else V(deps=DATA, fl=t.kind != "int")
                if t.kind == "ref":  # a C++ reference: both names become unknown, and stay tied
                    self.refs[name] = init.v if init is not None and init.k == "id" else ""
                    self.setvar(self.refs[name], val, env)
                self.setvar(name, val, env, init)
                continue
            dv = []
            for d in dims:
                x = self.ev(d, env) if d is not None else None
                dv.append(int(x.lo) if isinstance(x, V) and x.m == 0 and x.lo >= 0 and not x.fl else None)
            if dv == [None] and init is not None and init.k == "init":
                dv = [len(init.a)]
            nbytes = t.size * math.prod(dv) if None not in dv and t.size else None
            if nbytes is None and dims == (None,) and ext and t.space == "local":
                nbytes, dv = self.smem, [None]
            if init is not None:
                self.ev(init, env)
            self.vtypes[name] = Type("ptr", t.size, t.scalar, t.space)
            p = P(Buf(name, nbytes, t.size, False), cst(0), t.size, tuple(dv) if None not in dv else (), ())
            p.did = self.fresh()
            env.vars[name] = p
        return env

    def s_if(self, s, env):
        c, th, el = s.a
        self.ev(c, env)
        te, fe = self.refine(env, c, True), self.refine(env, c, False)
        if te is env and fe is not None:
            te = env.copy()
        to = self.exec(th, te)
        fo = self.exec(el, fe)
        t_exit, f_exit = te is not None and to is None, fe is not None and fo is None
        if (to is None) != (fo is None) and (t_exit or f_exit):
            survivor = to if to is not None else fo
            survivor.exits += 1
            return survivor
        return self.join(env, [to, fo], to is not None and fo is not None and to.exits == fo.exits == env.exits)

    def s_return(self, s, env):
        if s.a[0] is not None:
            v = self.ev(s.a[0], env)
            if self.rets:
                self.rets[-1].append(v)
        return None

    def s_goto(self, s, env):
        env.fok = False
        return env

    def s_break(self, s, env):
        if self.ctl:
            self.ctl[-1][1].append(env)
        return None

    def s_continue(self, s, env):
        for ctx in reversed(self.ctl):
            if ctx[0] == "loop":
                ctx[2].append(env)
                break
        return None

    def s_switch(self, s, env):
        c, body = s.a
        self.ev(c, env)
        entry = self.vague(env)
        self.ctl.append(["switch", [], []])
        cur: Optional[Env] = entry.copy()
        try:
            for st in (body.a if body.k == "block" else (body,)):
                if st.k == "label":
                    cur = self.join(entry, [cur, entry.copy()], False)
                cur = self.exec(st, cur)
        finally:
            ctx = self.ctl.pop()
        return self.join(env, [env, cur] + ctx[1], False)

    def s_while(self, s, env):
        return self.loop(env, s.a[0], None, s.a[1], True, None)

    def s_do(self, s, env):
        return self.loop(env, s.a[0], None, s.a[1], False, None)

    def s_for(self, s, env):
        init, cond, step, body = s.a
        saved = {item[0]: env.vars.get(item[0]) for item in init.v} if init is not None and init.k == "decl" else {}
        taint0 = set(env.taint)
        env = self.exec(init, env)
        out = self.loop(env, cond, step, body, True, init)
        if out is not None:
            self.restore(out, saved, taint0)
        return out

    # ---- loops
    def loop(self, env, cond, step, body, test_first, init):
        if env is None:
            return None
        mod = self.scan(body, "mod") | (self.scan(step, "mod") if step else set()) | \
            (self.scan(cond, "mod") if cond else set())
        pat = self.counter(env, init, cond, step, body) if test_first else None
        if pat == "never":
            self.ev(cond, env)
            return env
        head = env.copy()
        names = [x for x in mod if x in head.vars and (pat is None or x != pat[0])]
        for x in names:
            head.vars[x] = self.loose(head.vars[x])
        if pat:
            head.vars[pat[0]] = pat[1]
        if self.quiet and self.crude:
            for x in names:
                v = head.vars[x]
                head.vars[x] = self.loose(V(deps=DATA) if isinstance(v, V) else P(v.buf, U, v.es))
        elif names:
            head = self.fixpoint(head, names, cond, step, body, test_first, pat)
        ends, brks = self.iterate(head, cond, step, body, test_first, pat)
        if not test_first:
            exits = [self.refine(e, cond, False) for e in ends]
        elif pat:
            exits = [head.copy()]
            exits[0].vars[pat[0]] = pat[2]
        else:
            exits = [self.refine(head, cond, False) if cond is not None else None]
        parts = [e for e in exits + brks if e is not None]
        ret = self.scan(body, "ret")
        out = self.join(env, parts, not ret)
        if out is not None:  # every work-item that did not return gets past the loop
            out.gok, out.fok = env.gok, env.fok and out.fok and not ret
        return out

    def loose(self, v):
        w = cp(v, ex=False, dn=False, deps=v.deps | DATA, ident=None) if isinstance(v, V) else \
            P(v.buf, cp(v.off, ex=False, dn=False, deps=v.off.deps | DATA), v.es, v.dims, v.chk)
        w.did = self.fresh()
        return w

    def iterate(self, head, cond, step, body, test_first, pat):
        e = head.copy()
        if pat and pat[3]:  # only the work-items with a < b enter the body
            if any(e.taint.get(d, pat[1].ident) != pat[1].ident for d in pat[3]):
                e.gok = False
            self.taint(e, pat[3], {pat[0]}, pat[1].ident)
        if cond is not None and test_first:
            self.ev(cond, e)
            if not pat:
                e = self.refine(e, cond, True)
                if e is None:
                    return [], []
                e = e.copy() if e is head else e
        self.ctl.append(["loop", [], []])
        try:
            out = self.exec(body, e)
        finally:
            ctx = self.ctl.pop()
        ends = [x for x in [out] + ctx[2] if x is not None]
        for x in ends:
            if step is not None:
                self.ev(step, x)
            if cond is not None and not test_first:
                self.ev(cond, x)
        return ends, ctx[1]

    def fixpoint(self, head, names, cond, step, body, test_first, pat):
        cur = head
        for it in range(5):
            self.quiet += 1
            self.crude += 1
            try:
                ends, brks = self.iterate(cur, cond, step, body, test_first, pat)
            finally:
                self.quiet -= 1
                self.crude -= 1
            nxt, changed = cur.copy(), False
            for x in names:
                old = cur.vars[x]
                vals = [old] + [e.vars[x] for e in ends if x in e.vars]
                new = hull([(v, False) for v in vals])
                if not within(new, old):
                    changed = True
                    w = self.loose(widen(old, new) if it >= 2 else new)
                    nxt.vars[x] = w
            if not changed:
                return cur
            cur = nxt
        for x in names:
            v = cur.vars[x]
            cur.vars[x] = self.loose(V(deps=DATA) if isinstance(v, V) else P(v.buf, U, v.es))
        return cur

    def counter(self, env, init, cond, step, body):
        """`for (k = a; k < b; k += c)`: (name, value inside, value after, deps of a and b), 'never' or None."""
        if cond is None or step is None or cond.k != "bin" or cond.v not in ("<", "<=", ">", ">=", "!="):
            return None
        if step.k not in ("asg", "post") or step.a[0].k != "id":
            return None
        name = step.a[0].v
        l, r = cond.a
        if l.k == "id" and l.v == name:
            op, bnode = cond.v, r
        elif r.k == "id" and r.v == name:
            op, bnode = SWAP[cond.v], l
        else:
            return None
        mod = self.scan(body, "mod")
        if name in mod or any(x in mod or x == name for x in bnode.names):
            return None
        if step.v in ("++", "--"):
            c = 1 if step.v == "++" else -1
        elif step.v in ("+=", "-=") and not set(step.a[1].names) & (mod | {name}):
            c = self.const(step.a[1], env)
            c = None if c is None else c if step.v == "+=" else -c
        else:
            return None
        a, b = env.vars.get(name), self.qev(bnode, env)
        if not c or not isinstance(a, V) or not isinstance(b, V) or a.fl or b.fl:
            return None
        early = self.scan(body, "brk")
        if c > 0 and op in ("<", "<=") or (op == "!=" and c == 1 and a.hi <= b.lo):
            lo, hi = a.lo, b.hi - (op != "<=")
            if c > 1 and a.m == 0 and hi != INF:
                hi = a.lo + c * ((hi - a.lo) // c)
            after = V(min(a.lo, b.lo), max(a.hi, hi + c), deps=a.deps | b.deps | DATA)
        elif c < 0 and op in (">", ">=") or (op == "!=" and c == -1 and a.lo >= b.hi):
            lo, hi = b.lo + (op != ">="), a.hi
            if c < -1 and a.m == 0 and lo != -INF:
                lo = a.hi - (-c) * ((a.hi - lo) // -c)
            after = V(min(a.lo, lo + c), max(a.hi, b.hi), deps=a.deps | b.deps | DATA)
        else:
            return None
        if lo > hi:
            return "never"
        self.nloop += 1
        ex = a.ex and b.ex and not (a.deps & b.deps) and (abs(c) == 1 or a.m == 0) and not early
        m, rr = (abs(c), a.lo) if a.m == 0 else (math.gcd(a.m, abs(c)), a.r)
        ident = f"L{self.nloop}"
        v = V(lo, hi, ex, ex, m, rr, a.deps | b.deps | {ident}, ident)
        v.did = self.fresh()
        after.did = self.fresh()
        return name, v, after, a.deps | b.deps

    # ---- kernels
    def kernel(self, fn: Func) -> None:
        body = self.prog.body(fn)
        if body is None:
            raise Stop(f"cannot parse the body of `{fn.name}`")
        env = Env()
        for i, (name, t) in enumerate(fn.params):
            arg = self.L.args[i] if i < len(self.L.args) else None
            self.vtypes[name] = t
            if t.kind == "ptr":
                buf = Buf(arg.name or name, max(0, int(arg.elements)) * t.scalar if t.size else None, t.scalar, True) \
                    if arg is not None and arg.kind == "buffer" and t.space != "local" else None
                val = P(buf, cst(0) if buf else U, t.size)
            elif t.kind == "int":
                val = cst(int(arg.value)) if arg is not None and arg.kind == "int" and arg.value is not None else U
            else:
                val = F
            self.setvar(name, val, env)
        for d in self.prog.globals:
            env = self.exec(d, env)
        self.exec(body, env)
