"""The abstract integer values (intervals with stride and dependencies), pointers, buffers and states."""
from __future__ import annotations

import math
from typing import Optional

from .syntax import Type


INF = math.inf


# ------------------------------------------------------------------ abstract values
DATA = frozenset({"data"})  # the dependency of values read from memory
NOD = frozenset()


class V:
    """Integer interval [lo, hi] (+-inf allowed) over the work-items on the current path.

    ex: both endpoints are attained; dn: every value of the congruence class m, r inside is
    attained; deps: the independent bases (ids, loop counters, 'data') the value depends on;
    ident: the value *is* that base; fl: a float (never refined); cond/quot/did: what the value
    was computed from, for bool variables, `x - (x / d) * d` and fact keys."""
    __slots__ = ("lo", "hi", "ex", "dn", "m", "r", "deps", "ident", "fl", "cond", "quot", "did")

    def __init__(self, lo=-INF, hi=INF, ex=False, dn=False, m=1, r=0, deps=NOD, ident=None, fl=False):
        if lo == hi:
            m, r = 0, lo
        elif m > 1:
            r %= m
            lo = lo if lo == -INF else lo + (r - lo) % m
            hi = hi if hi == INF else hi - (hi - r) % m
        else:
            m, r = 1, 0
        self.lo, self.hi, self.ex, self.dn, self.m, self.r = lo, hi, ex, dn and ex, m, r
        self.deps, self.ident, self.fl = deps, ident, fl
        self.cond = self.quot = None
        self.did = 0


def cp(v: V, cond=False, quot=False, did=None, **kw) -> V:
    d = {k: getattr(v, k) for k in ("lo", "hi", "ex", "dn", "m", "r", "deps", "ident", "fl")}
    d.update(kw)
    n = V(**d)
    n.cond = v.cond if cond is False else cond
    n.quot = v.quot if quot is False else quot
    n.did = v.did if did is None else did
    return n


def cst(x, ex: bool = True) -> V:
    return V(x, x, ex, ex)


U = V()
F = V(fl=True)
_BOOL = V(0, 1)


def unk(*vals, fl: bool = False) -> V:
    deps = NOD.union(*[v.deps for v in vals if isinstance(v, V)])
    return V(deps=deps, fl=fl or any(isinstance(v, V) and v.fl for v in vals))


def _m(x, y):
    return 0 if x == 0 or y == 0 else x * y


def _td(x, c):
    if x in (INF, -INF):
        return x if c > 0 else -x
    if c in (INF, -INF):
        return 0
    q = abs(x) // abs(c)
    return q if (x >= 0) == (c > 0) else -q


def _covers(x: V, y: V) -> bool:
    return x.m > 0 and y.m > 0 and y.m % x.m == 0 and x.hi - x.lo + x.m >= y.m


def add(a: V, b: V) -> V:
    if a.fl or b.fl:
        return unk(a, b)
    ind = not (a.deps & b.deps)
    dn = a.dn and b.dn and ind and (a.m == 0 or b.m == 0 or a.m == b.m or _covers(a, b) or _covers(b, a))
    return V(a.lo + b.lo, a.hi + b.hi, a.ex and b.ex and ind, dn, math.gcd(a.m, b.m), a.r + b.r, a.deps | b.deps)


def neg(a: V) -> V:
    return V(-a.hi, -a.lo, a.ex, a.dn, a.m, -a.r, a.deps, fl=a.fl)


def mul(a: V, b: V) -> V:
    if a.fl or b.fl:
        return unk(a, b)
    if a.m == 0 and b.m != 0:
        a, b = b, a
    if b.m == 0:
        c = b.lo
        if c == 0:
            return cst(0, b.ex)
        lo, hi = sorted((_m(a.lo, c), _m(a.hi, c)))
        return V(lo, hi, a.ex and b.ex, a.dn and b.ex, a.m * abs(c), a.r * c, a.deps | b.deps)
    ps = [_m(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    return V(min(ps), max(ps), m=math.gcd(a.m * b.m, a.m * b.r, b.m * a.r), r=a.r * b.r, deps=a.deps | b.deps)


def _div(a: V, b: V) -> V:
    if a.fl or b.fl:
        return unk(a, b)
    deps = a.deps | b.deps
    if b.m == 0 and b.lo != 0:
        c = b.lo
        lo, hi = sorted((_td(a.lo, c), _td(a.hi, c)))
        if a.m > 0 and a.m % c == 0 and a.r % c == 0:
            return V(lo, hi, a.ex and b.ex, a.dn and b.ex, a.m // abs(c), _td(a.r, c), deps)
        return V(lo, hi, a.ex and b.ex, a.dn and b.ex and a.m == 1, deps=deps)
    if b.lo > 0:
        qs = [_td(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        return V(min(qs), max(qs), deps=deps)
    if b.hi < 0:
        return _div(neg(a), neg(b))
    return unk(a, b)


def modulo(a: V, b: V) -> V:
    if a.fl or b.fl:
        return unk(a, b)
    deps = a.deps | b.deps
    if b.m == 0 and b.lo != 0:
        d = abs(b.lo)
        if a.m == 0:
            return cst(a.lo - d * _td(a.lo, d), a.ex and b.ex)
        g = math.gcd(a.m, d)
        if a.lo >= 0:
            if a.hi < d:
                return cp(a, cond=None, quot=None, did=0)
            full = a.dn and a.m == 1 and a.hi - a.lo + 1 >= d and b.ex
            return V(0, d - 1, full, full, g, a.r, deps)
        if a.hi <= 0:
            return neg(modulo(neg(a), b))
        return V(max(a.lo, 1 - d), min(a.hi, d - 1), m=g, r=a.r, deps=deps)
    if b.lo > 0:
        return V(0 if a.lo >= 0 else max(a.lo, 1 - b.hi), min(a.hi, b.hi - 1), deps=deps)
    return unk(a, b)


def _shift_amount(b: V) -> Optional[int]:
    return int(b.lo) if b.m == 0 and not b.fl and 0 <= b.lo <= 62 else None


def _shl(a: V, b: V) -> V:
    s = _shift_amount(b)
    return mul(a, cst(1 << s, b.ex)) if s is not None else unk(a, b)


def _shr(a: V, b: V) -> V:
    s = _shift_amount(b)
    if s is None or a.fl:
        return unk(a, b)
    lo, hi = (x if x in (INF, -INF) else x >> s for x in (a.lo, a.hi))
    p = 1 << s
    if a.m > 0 and a.m % p == 0:
        return V(lo, hi, a.ex and b.ex, a.dn and b.ex, a.m // p, a.r >> s, a.deps)
    return V(lo, hi, a.ex and b.ex, a.dn and b.ex and a.m <= 1, deps=a.deps)


def _band(a: V, b: V) -> V:
    if a.fl or b.fl:
        return unk(a, b)
    if a.m == 0 and b.m == 0:
        return cst(int(a.lo) & int(b.lo), a.ex and b.ex)
    for x, y in ((a, b), (b, a)):
        if y.m == 0 and y.lo >= 0:
            mask = int(y.lo)
            low = mask & (mask + 1) == 0
            if low and x.lo >= 0 and x.hi <= mask:
                return cp(x, cond=None, quot=None, did=0)
            full = low and x.dn and x.m == 1 and x.lo >= 0 and x.hi - x.lo >= mask
            return V(0, mask if x.lo < 0 else min(x.hi, mask), full, full, deps=x.deps)
    if a.lo >= 0 and b.lo >= 0:
        return V(0, min(a.hi, b.hi), deps=a.deps | b.deps)
    return unk(a, b)


def _bor(a: V, b: V, xor: bool = False) -> V:
    if a.fl or b.fl:
        return unk(a, b)
    if a.m == 0 and b.m == 0:
        return cst(int(a.lo) ^ int(b.lo) if xor else int(a.lo) | int(b.lo), a.ex and b.ex)
    if a.lo >= 0 and b.lo >= 0:
        top = max(a.hi, b.hi)
        hi = INF if top == INF else (1 << int(top).bit_length()) - 1
        return V(0 if xor else max(a.lo, b.lo), hi, deps=a.deps | b.deps)
    return unk(a, b)


def cmp(op: str, a: V, b: V) -> Optional[bool]:
    if a.fl or b.fl:
        return None
    if op == "<":
        return True if a.hi < b.lo else False if a.lo >= b.hi else None
    if op == "<=":
        return True if a.hi <= b.lo else False if a.lo > b.hi else None
    if op in (">", ">="):
        return cmp("<" if op == ">" else "<=", b, a)
    eq = (a.lo == b.lo) if a.m == 0 and b.m == 0 else False if (a.hi < b.lo or b.hi < a.lo) else None
    return eq if op == "==" or eq is None else not eq


def truth_of(v) -> Optional[bool]:
    if isinstance(v, P):
        return True
    if v.fl:
        return None
    return True if v.lo > 0 or v.hi < 0 else False if v.lo == v.hi == 0 else None


ARITH = {"+": add, "-": lambda a, b: add(a, neg(b)), "*": mul, "/": _div, "%": modulo, "<<": _shl, ">>": _shr,
         "&": _band, "|": _bor, "^": lambda a, b: _bor(a, b, True)}
CMPS = {"<", "<=", ">", ">=", "==", "!="}
NEG = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
SWAP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class Buf:
    __slots__ = ("name", "nbytes", "unit", "abi")

    def __init__(self, name: str, nbytes: Optional[int], unit: int, abi: bool):
        self.name, self.nbytes, self.unit, self.abi = name, nbytes, max(1, unit), abi


class P:
    """A pointer: byte offset interval into a buffer (None: unknown), pointee size, array dims left."""
    __slots__ = ("buf", "off", "es", "dims", "chk", "cond", "quot", "did")

    def __init__(self, buf, off: V, es: int, dims: tuple = (), chk: tuple = ()):
        self.buf, self.off, self.es, self.dims, self.chk = buf, off, max(1, es), dims, chk
        self.cond = self.quot = None
        self.did = 0


def hull(items: list):
    """Join of values from several paths: [(value, path understood)]."""
    vals = [v for v, _ in items]
    v0 = vals[0]
    if all(v is v0 for v in vals):
        return v0
    if all(isinstance(v, P) for v in vals):
        if all(v.buf is v0.buf and v.es == v0.es and v.dims == v0.dims for v in vals):
            off = hull([(v.off, u) for v, u in items])
            return P(v0.buf, off, v0.es, v0.dims, v0.chk if all(v.chk == v0.chk for v in vals) else ())
        return P(None, U, v0.es)
    if not all(isinstance(v, V) for v in vals):
        return unk(*vals)
    lo, hi = min(v.lo for v in vals), max(v.hi for v in vals)
    ex = any(u and v.ex and v.lo == lo for v, u in items) and any(u and v.ex and v.hi == hi for v, u in items)
    m = 0
    for v in vals:
        m = math.gcd(math.gcd(m, v.m), int(abs(v.r - v0.r)))
    out = V(lo, hi, ex, False, m, v0.r, NOD.union(*[v.deps for v in vals]), fl=any(v.fl for v in vals))
    out.ident = v0.ident if all(v.ident == v0.ident for v in vals) else None
    return out


def within(new, old) -> bool:
    if isinstance(new, V) and isinstance(old, V):
        return new.lo >= old.lo and new.hi <= old.hi and new.fl == old.fl
    if isinstance(new, P) and isinstance(old, P):
        return new.buf is old.buf and within(new.off, old.off)
    return False


def widen(old, new):
    if isinstance(new, V) and isinstance(old, V):
        return V(old.lo if new.lo >= old.lo else -INF, old.hi if new.hi <= old.hi else INF, m=new.m, r=new.r,
                 deps=new.deps | DATA, fl=new.fl or old.fl)
    if isinstance(new, P) and isinstance(old, P) and new.buf is old.buf:
        return P(new.buf, widen(old.off, new.off), new.es, new.dims, ())
    return P(None, U, 4) if isinstance(new, P) else V(deps=DATA)


class Env:
    """Abstract state of the work-items on one path."""
    __slots__ = ("vars", "bases", "taint", "facts", "gok", "fok", "exits")

    def __init__(self):
        self.vars, self.bases, self.facts, self.taint = {}, {}, {}, {}  # taint: dependency -> constraining term
        self.gok, self.fok, self.exits = True, True, 0

    def copy(self) -> "Env":
        e = Env.__new__(Env)
        e.vars, e.bases, e.facts, e.taint = dict(self.vars), dict(self.bases), dict(self.facts), dict(self.taint)
        e.gok, e.fok, e.exits = self.gok, self.fok, self.exits
        return e


def narrow(v: V, t: Type) -> V:
    """The value converted to an integer type: unchanged when it fits, else the type's range."""
    bits = 8 * t.size
    lo, hi = (0, 2 ** bits - 1) if t.unsigned else (-2 ** (bits - 1), 2 ** (bits - 1) - 1)
    if lo <= v.lo and v.hi <= hi:
        return v
    if (t.size >= 4 and not t.unsigned) or (v.lo >= lo and v.hi == INF):  # overflow is UB / widened growth
        return V(max(v.lo, lo), min(v.hi, hi), m=v.m, r=v.r, deps=v.deps)
    return V(lo, hi, deps=v.deps)


def minmax(a: V, b: V, low: bool) -> V:
    f = min if low else max
    ex = a.ex and b.ex and not (a.deps & b.deps)
    dn = (a.dn and b.m == 0 and b.ex) or (b.dn and a.m == 0 and a.ex)
    return V(f(a.lo, b.lo), f(a.hi, b.hi), ex, dn, deps=a.deps | b.deps)


def fmt(x) -> str:
    return "-infinity" if x == -INF else "infinity" if x == INF else str(int(x))


def floor(x, a: int):
    return x if x in (INF, -INF) else x // a
