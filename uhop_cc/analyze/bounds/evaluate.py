"""Evaluation of expressions: values, pointers, loads, stores and the checks of accesses."""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

from .model import Launch, MemFinding
from .lexer import Stop
from .syntax import Node, Type
from .values import (add, ARITH, Buf, cmp, CMPS, cp, cst, DATA, Env, F, fmt, hull, INF, modulo, mul, narrow, neg, NOD,
    P, truth_of, U, unk, V)


# ------------------------------------------------------------------ the analysis of one launch
ID_FUNCS = {"get_global_id": "gid", "get_local_id": "lid", "get_group_id": "grp", "get_global_size": "gsz",
            "get_local_size": "lsz", "get_enqueued_local_size": "lsz", "get_num_groups": "ngr",
            "get_global_offset": "zero"}
CUDA_IDS = {"threadIdx": "lid", "blockIdx": "grp", "blockDim": "lsz", "gridDim": "ngr"}
_NAMED = {"true": cst(1), "false": cst(0), "NULL": cst(0), "nullptr": cst(0), "warpSize": cst(32)}
INT_FUNCS = {"min", "max", "umin", "umax", "imin", "imax", "llmin", "llmax", "ullmin", "ullmax", "clamp", "abs",
             "labs", "llabs", "mad24", "mul24", "__mul24", "__umul24", "mad", "select", "get_work_dim"}
_MAX_STEPS = 1_500_000


class Eval:
    """Expressions, loads, stores and the checks of accesses; `Calls` adds the built-ins and inline calls,
    `Refine` the guards, `Run` the statements and loops."""

    def __init__(self, prog, launch: Optional[Launch], target: str, out, smem: Optional[int] = None):
        self.prog, self.L, self.target, self.out, self.smem = prog, launch, target, out, smem
        self.quiet = self.crude = self.nid = self.steps = self.nloop = 0
        self.ctl: list = []
        self.rets: list = []
        self.calls: list = []
        self.vtypes: Dict[str, Type] = {}
        self.refs: Dict[str, str] = {}
        self.effects_cache: Dict[int, bool] = {}
        self.scan_cache: Dict[Tuple[int, str], object] = {}
        g = tuple(int(x) for x in launch.global_size) if launch else (1,)
        self.dims = len(g)
        self.G = (g + (1, 1, 1))[:3]
        loc = launch.local_size if launch else None
        self.Lc = (tuple(int(x) for x in loc) + (1, 1, 1))[:3] if loc else None
        ints = [f"{a.name}={a.value}" for a in (launch.args if launch else ())
                if a.kind == "int" and a.value is not None and a.name]
        self.where = "at " + ", ".join(ints + [f"global={g}"] + ([f"local={tuple(loc)}"] if loc else []))

    # ---- helpers
    def fresh(self) -> int:
        self.nid += 1
        return self.nid

    def key(self, n: Node, env: Env) -> tuple:
        return (n.key,) + tuple(getattr(env.vars.get(x), "did", 0) for x in n.names)

    def qev(self, n: Node, env: Env):
        self.quiet += 1
        try:
            return self.ev(n, env)
        finally:
            self.quiet -= 1

    def const(self, n: Node, env: Env) -> Optional[int]:
        if n.k == "num":
            return n.v
        if self.effects(n):
            return None
        v = self.qev(n, env)
        return v.lo if isinstance(v, V) and v.m == 0 and not v.fl else None

    def effects(self, n) -> bool:
        if not isinstance(n, Node):
            return False
        r = self.effects_cache.get(id(n))
        if r is None:
            r = n.k in ("asg", "post") or (n.k == "addr" and n.a[0].k == "id") or \
                any(self.effects(c) for c in n.a)
            self.effects_cache[id(n)] = r
        return r

    def reads_memory(self, n) -> bool:
        if not isinstance(n, Node):
            return False
        k = (id(n), "mem")
        if k not in self.scan_cache:
            self.scan_cache[k] = n.k in ("idx", "deref") or (n.k == "mem" and n.v == "->") or \
                (n.k == "call" and not (n.v in ID_FUNCS or n.v in INT_FUNCS)) or \
                any(self.reads_memory(c) for c in n.a)
        return self.scan_cache[k]

    def scan(self, n, what: str):
        """Syntactic facts of a statement: 'mod' (names assigned), 'ret' (return/goto/bad inside),
        'brk' (leaves the enclosing loop early: break at this level, return, goto)."""
        k = (id(n), what)
        if k not in self.scan_cache:
            self.scan_cache[k] = self._scan(n, what, set())
        return self.scan_cache[k]

    def _scan(self, n, what: str, acc: set):
        if not isinstance(n, Node):
            return acc if what == "mod" else False
        if what == "mod":
            if n.k in ("asg", "post") or (n.k == "addr"):
                t = n.a[0]
                while t.k in ("cast", "mem") and t.a:
                    t = t.a[0]
                if t.k == "id":
                    acc.add(t.v)
            for c in n.a:
                self._scan(c, what, acc)
            return acc
        if n.k in ("return", "goto", "bad") or (what == "brk" and n.k == "break"):
            return True
        if what == "brk" and n.k in ("for", "while", "do", "switch"):
            return self.scan(n, "ret")
        return any(self._scan(c, what, acc) for c in n.a)

    def text(self, n: Node) -> str:
        toks = self.prog.toks
        if not (0 <= n.s < n.e <= len(toks)):
            return "?"
        a, b = toks[n.s][3], toks[n.e - 1][4]
        t = self.prog.src[a:b] if b > a else " ".join(x[1] for x in toks[n.s:n.e])
        t = " ".join(t.split())
        return t if len(t) <= 80 else t[:77] + "..."

    # ---- findings
    def finding(self, write: bool, severity: str, n: Node, buf: str, msg: str) -> None:
        if self.quiet:
            return
        code = f"mem.{'oob' if severity == 'error' else 'unproven'}-{'write' if write else 'read'}"
        if self.calls:
            msg += f" (in {self.calls[-1][0]}() called at line {self.calls[0][1]})"
        findings = self.out[0]
        k = (self.L.kernel, n.line, buf, write)
        old = findings.get(k)
        if old is None or (old.severity == "warning" and severity == "error"):
            findings[k] = MemFinding(code, severity, msg, n.line, self.L.kernel, buf)

    def note_reach(self, buf: Buf, lo, hi) -> None:
        if not buf.abi or self.quiet:
            return
        lo = None if lo == -INF else int(lo) // buf.unit
        hi = None if hi == INF else int(hi) // buf.unit
        old = self.out[1].get(buf.name)
        if old is not None:
            lo = None if lo is None or old[0] is None else min(lo, old[0])
            hi = None if hi is None or old[1] is None else max(hi, old[1])
        self.out[1][buf.name] = (lo, hi)

    def lost(self, p, n: Node, write: bool, why: str) -> None:
        """An access the analysis cannot bound."""
        buf = p.buf if isinstance(p, P) else None
        if buf is not None:
            self.note_reach(buf, -INF, INF)
        self.finding(write, "warning", n, buf.name if buf else "?",
                     f"{'write' if write else 'read'} {self.text(n)}: {why}; not proven in bounds ({self.where})")

    def access(self, p: Optional[P], nbytes: int, write: bool, n: Node, env: Env) -> None:
        if self.quiet:
            return
        if p is None or p.buf is None:
            return self.lost(p, n, write, "through a pointer the analysis cannot follow")
        buf, rw = p.buf, "write" if write else "read"
        lo, hi = p.off.lo, p.off.hi + nbytes - 1
        self.note_reach(buf, lo, hi)
        sure = env.gok and env.fok
        for iv, dim in p.chk:
            if iv.lo < 0 or iv.hi > dim - 1:
                bad = iv.lo if iv.lo < 0 else iv.hi
                err = sure and iv.ex and bad not in (INF, -INF)
                return self.finding(write, "error" if err else "warning", n, buf.name,
                                    f"{rw} {self.text(n)}: an index {'can' if err else 'may'} reach {fmt(bad)}, "
                                    f"outside a dimension of {buf.name} that has {dim} elements ({self.where})")
        if buf.nbytes is None:
            return self.lost(p, n, write, f"the size of {buf.name} is unknown")
        if lo >= 0 and hi <= buf.nbytes - 1:
            return None
        bad = lo if lo < 0 else hi
        count = buf.nbytes // buf.unit
        el = fmt(bad if bad in (INF, -INF) else int(bad) // buf.unit)
        if sure and p.off.ex and abs(bad) < 2 ** 31 * buf.unit:
            return self.finding(write, "error", n, buf.name,
                                f"{rw} {self.text(n)} can reach element {el}; {buf.name} has {count} elements "
                                f"({self.where})")
        why = "" if sure else ", under a condition the analysis does not follow"
        self.finding(write, "warning", n, buf.name, f"{rw} {self.text(n)} may reach element {el}{why}; cannot "
                                                     f"prove it stays within the {count} elements of {buf.name} "
                                                     f"({self.where})")

    # ---- expressions
    def ev(self, n: Node, env: Env):
        self.steps += 1
        if self.steps > _MAX_STEPS:
            raise Stop("analysis budget exhausted")
        v = getattr(self, "e_" + n.k)(n, env)
        if env.facts and isinstance(v, V) and n.k in ("bin", "call", "cast", "un", "mem"):
            f = env.facts.get(self.key(n, env))
            if f is not None:
                return f
        return v

    def e_num(self, n, env):
        return cst(n.v) if isinstance(n.v, int) else F

    def e_unk(self, n, env):
        return U

    def e_init(self, n, env):
        for x in n.a:
            self.ev(x, env)
        return U

    def e_id(self, n, env):
        v = env.vars.get(n.v)
        return v if v is not None else _NAMED.get(n.v, V(deps=DATA))

    def e_comma(self, n, env):
        self.ev(n.a[0], env)
        return self.ev(n.a[1], env)

    def arith(self, op: str, a, b):
        if isinstance(a, P) or isinstance(b, P):
            if op == "+" and isinstance(b, V) and isinstance(a, P):
                return self.padd(a, b)
            if op == "+" and isinstance(a, V) and isinstance(b, P):
                return self.padd(b, a)
            if op == "-" and isinstance(a, P) and isinstance(b, V):
                return self.padd(a, neg(b))
            return V(deps=DATA) if op not in CMPS else V(0, 1, deps=DATA)
        if op in CMPS:
            d = cmp(op, a, b)
            return V(0, 1, deps=a.deps | b.deps) if d is None else cst(int(d))
        return ARITH[op](a, b)

    def padd(self, p: P, i: V) -> P:
        stride = p.es * math.prod(d or 1 for d in p.dims[1:])
        return P(p.buf, add(p.off, mul(i, cst(stride))), stride, (), p.chk if not p.dims else ())

    def e_bin(self, n, env):
        op, (l, r) = n.v, n.a
        if op == "-" and r.k == "bin" and r.v == "*":  # x - (x / d) * d is x % d
            a, f, g = self.ev(l, env), self.ev(r.a[0], env), self.ev(r.a[1], env)
            if isinstance(a, V) and isinstance(f, V) and isinstance(g, V):
                for q, c in ((f, g), (g, f)):
                    if q.quot is not None and c.m == 0 and q.quot == (self.key(l, env), c.lo):
                        return modulo(a, c)
            return self.arith("-", a, self.arith("*", f, g))
        if op in ("+", "-") and env.facts:
            v = self.lin_sum(n, env)
            if v is not None:
                return v
        a, b = self.ev(l, env), self.ev(r, env)
        v = self.arith(op, a, b)
        if op == "/" and isinstance(v, V) and isinstance(b, V) and b.m == 0 and not v.fl:
            v = cp(v, quot=(self.key(l, env), b.lo))
        return v

    def flat(self, n: Node, sign: int = 1) -> list:
        """The signed operands of a + / - chain."""
        if n.k == "bin" and n.v in ("+", "-"):
            return self.flat(n.a[0], sign) + self.flat(n.a[1], sign if n.v == "+" else -sign)
        return [(sign, n)]

    def lin_key(self, ops: list, env: Env) -> tuple:
        return ("lin",) + tuple(sorted((sg, self.key(x, env)) for sg, x in ops if x.k != "num"))

    def lin_sum(self, n: Node, env: Env):
        """A sum whose operands include those of a refined sum (a `lin` fact) uses the fact."""
        facts = [(k, v) for k, v in env.facts.items() if k[0] == "lin"]
        if not facts:
            return None
        ops = self.flat(n)
        keys = [(sg, self.key(x, env)) for sg, x in ops]
        used: set = set()
        acc = None
        for fk, fv in sorted(facts, key=lambda kv: -len(kv[0])):
            pick = []
            for want in fk[1:]:
                j = next((j for j, k in enumerate(keys) if k == want and j not in used and j not in pick), None)
                if j is None:
                    break
                pick.append(j)
            else:
                used.update(pick)
                acc = fv if acc is None else add(acc, fv)
        if acc is None:
            return None
        for j, (sg, x) in enumerate(ops):
            v = self.ev(x, env)
            if j not in used:
                acc = self.arith("+" if sg > 0 else "-", acc, v)
        return acc

    def e_log(self, n, env):
        l, r = n.a
        conj = n.v == "&&"
        a = self.ev(l, env)
        ta = truth_of(a) if isinstance(a, (V, P)) else None
        eb = self.refine(env, l, conj)
        vb = None
        if eb is not None and self.effects(r):
            eb = eb if eb is not env else env.copy()
            vb = self.ev(r, eb)
            self.assign_env(env, self.join(env, [eb, self.refine(env, l, not conj)], False))
        elif eb is not None:
            vb = self.ev(r, eb)
        tb = truth_of(vb) if isinstance(vb, (V, P)) else None
        b = V(0, 1, deps=NOD.union(*[x.deps for x in (a, vb) if isinstance(x, V)]))
        if conj:
            return cst(0) if ta is False or tb is False else cst(1) if ta and tb else b
        return cst(1) if ta or tb else cst(0) if ta is False and tb is False else b

    @staticmethod
    def assign_env(env: Env, other: Optional[Env]) -> None:
        if other is not None and other is not env:
            for s in Env.__slots__:
                setattr(env, s, getattr(other, s))

    def e_tern(self, n, env):
        c, a, b = n.a
        self.ev(c, env)
        te, fe = self.refine(env, c, True), self.refine(env, c, False)
        if self.effects(a) or self.effects(b):
            te = te.copy() if te is env else te
            fe = fe.copy() if fe is env else fe
        va = self.ev(a, te) if te is not None else None
        vb = self.ev(b, fe) if fe is not None else None
        if self.effects(a) or self.effects(b):
            self.assign_env(env, self.join(env, [te, fe], False))
        items = [(v, e.gok and e.fok) for v, e in ((va, te), (vb, fe)) if e is not None]
        if not items:
            return U
        v = hull(items)
        if len(items) > 1 and isinstance(v, V):
            cv = self.qev(c, env)
            v = cp(v, deps=v.deps | (cv.deps if isinstance(cv, V) else DATA), ex=False, dn=False)
        return v

    def e_un(self, n, env):
        v = self.ev(n.a[0], env)
        if not isinstance(v, V):
            return cst(0) if n.v == "!" else U
        if n.v == "-":
            return neg(v)
        if n.v == "~":
            return add(neg(v), cst(-1)) if not v.fl else unk(v)
        if n.v == "!":
            t = truth_of(v)
            return V(0, 1, deps=v.deps) if t is None else cst(int(not t))
        return v

    def e_asg(self, n, env):
        l = n.a[0]
        if n.v == "=":
            val = self.ev(n.a[1], env)
        elif l.k == "id":
            val = self.ev(n.a[2], env)
        else:
            old = self.qev(l, env)
            rhs = self.ev(n.a[1], env)
            val = self.arith(n.v[:-1] if n.v not in ("++", "--") else n.v[0], old, rhs) \
                if n.v[:-1] in ARITH or n.v in ("++", "--") else unk(old, rhs)
        self.store(l, val, env, n.a[1] if n.v == "=" else None)
        return val

    def e_post(self, n, env):
        val = self.e_asg(Node("asg", n.v, (n.a[0], n.a[0], n.a[1]), n.line, n.s, n.e), env)
        return self.arith("-" if n.v == "++" else "+", val, cst(1)) if isinstance(val, V) else val

    def e_cast(self, n, env):
        t, v = n.v, self.ev(n.a[0], env)
        if t.kind == "ptr":
            return P(v.buf, v.off, t.size, (), v.chk) if isinstance(v, P) and t.size else P(None, U, t.size)
        if isinstance(v, P):
            return V(deps=DATA)
        if t.kind == "int":
            return narrow(v, t) if not v.fl else unk(v)
        return unk(v, fl=True)

    def e_field(self, n, env):
        return U

    def e_mem(self, n, env):
        base, fld = n.a[0], n.a[1].v
        if base.k == "id" and base.v in CUDA_IDS and base.v not in env.vars and fld in ("x", "y", "z"):
            return self.ids(CUDA_IDS[base.v], "xyz".index(fld), env)
        if n.v == "->":
            p = self.ev(base, env)
            return self.load(p if isinstance(p, P) else None, n, env)
        return unk(self.ev(base, env), fl=True)

    def e_deref(self, n, env):
        p = self.ev(n.a[0], env)
        return self.load(p if isinstance(p, P) else None, n, env)

    def e_idx(self, n, env):
        return self.load(self.lval(n, env), n, env)

    def e_addr(self, n, env):
        x = n.a[0]
        if x.k == "id":
            v = env.vars.get(x.v)
            if isinstance(v, P) and v.dims:
                return v
            t = self.vtypes.get(x.v)
            size = t.size if t else 4
            if x.v in env.vars:
                self.setvar(x.v, V(deps=DATA, fl=bool(t and t.kind != "int")), env)
            return P(Buf(x.v, size, size, False), cst(0), size)
        p = self.lval(x, env)
        return p if p is not None else P(None, U, 4)

    def lval(self, n: Node, env: Env) -> Optional[P]:
        if n.k == "idx":
            base, i = self.ev(n.a[0], env), self.ev(n.a[1], env)
            if isinstance(i, P) and isinstance(base, V):
                base, i = i, base
            if not isinstance(base, P):
                return None
            return self.index(base, i if isinstance(i, V) else U)
        if n.k in ("deref", "mem") and (n.k == "deref" or n.v == "->"):
            p = self.ev(n.a[0], env)
            return p if isinstance(p, P) else None
        if n.k == "mem" and n.a[0].k in ("idx", "deref", "mem"):
            return self.lval(n.a[0], env)
        return None

    def index(self, p: P, i: V) -> P:
        if i.fl:
            i = unk(i)
        if p.dims:
            stride = p.es * math.prod(d or 1 for d in p.dims[1:])
            chk = p.chk + ((i, p.dims[0]),) if p.dims[0] else p.chk
            return P(p.buf, add(p.off, mul(i, cst(stride))), p.es, p.dims[1:], chk)
        return P(p.buf, add(p.off, mul(i, cst(p.es))), p.es, (), p.chk)

    def load(self, p: Optional[P], n: Node, env: Env):
        if p is None:
            if not self.quiet:
                self.lost(None, n, False, "the indexed value is not a pointer the analysis can follow")
            return V(deps=DATA, fl=True)
        if p.dims:
            return p
        self.access(p, p.es, False, n, env)
        return V(deps=p.off.deps | DATA, fl=True)

    def store(self, l: Node, val, env: Env, rhs: Optional[Node]) -> None:
        while l.k == "cast":
            l = l.a[0]
        if l.k == "id":
            return self.setvar(l.v, val, env, rhs)
        if l.k == "mem" and l.v == "." and l.a[0].k == "id":
            t = self.vtypes.get(l.a[0].v)
            if l.a[0].v in env.vars:
                self.setvar(l.a[0].v, V(deps=DATA, fl=not (t and t.kind == "int")), env)
            return None
        p = self.lval(l, env)
        if p is None:
            return self.lost(None, l, True, "the target is not a pointer the analysis can follow")
        if not p.dims:
            self.access(p, p.es, True, l, env)
        return None

    def setvar(self, name: str, val, env: Env, rhs: Optional[Node] = None) -> None:
        t = self.vtypes.get(name)
        if t is not None and t.kind == "ptr":
            val = val if isinstance(val, P) else P(None, U, t.size)
            v = P(val.buf, val.off, val.es, val.dims, val.chk)
        else:
            if not isinstance(val, V):
                val = V(deps=DATA)
            if t is not None and t.kind == "ref":
                val = V(deps=DATA, fl=True)
            elif t is not None and t.kind != "int" and not val.fl:
                val = unk(val, fl=True)
            elif t is not None and t.kind == "int":
                val = unk(val) if val.fl else narrow(val, t)
            v = cp(val)
            if rhs is not None and (rhs.k == "log" or (rhs.k == "bin" and rhs.v in CMPS) or
                                    (rhs.k == "un" and rhs.v == "!")):
                v.cond = (rhs, self.key(rhs, env))
        v.did = self.fresh()
        env.vars[name] = v
        if self.refs.get(name) in env.vars:
            env.vars[self.refs[name]] = V(deps=DATA, fl=True)
