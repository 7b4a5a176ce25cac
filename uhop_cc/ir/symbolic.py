"""Integer expressions over size symbols and index variables.

Used for shapes (`H - R + 1`, `W / 2`), explicit ranges and access indices:
canonical forms decide whether two dims are the same, `evaluate` binds them,
and `interval` bounds an index over concrete ranges for the bounds check.
"""
from __future__ import annotations

from typing import Dict, Mapping, Tuple

from . import nodes as N

# A polynomial: {monomial: coefficient}; a monomial is a sorted tuple of atoms,
# an atom is a symbol name or ('/', poly, d) / ('%', poly, d) for division by a literal.
Poly = Tuple[Tuple[tuple, int], ...]


def _freeze(p: Dict[tuple, int]) -> Poly:
    return tuple(sorted(((m, c) for m, c in p.items() if c), key=repr))


def _add(a: Dict, b: Dict, sign: int = 1) -> Dict:
    out = dict(a)
    for m, c in b.items():
        out[m] = out.get(m, 0) + sign * c
    return out


def _mul(a: Dict, b: Dict) -> Dict:
    out: Dict[tuple, int] = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            m = tuple(sorted(ma + mb, key=repr))
            out[m] = out.get(m, 0) + ca * cb
    return out


def _const_of(p: Dict):
    nz = {m: c for m, c in p.items() if c}
    if not nz:
        return 0
    if set(nz) == {()}:
        return nz[()]
    return None


def _poly(e: N.Expr) -> Dict[tuple, int]:
    if isinstance(e, N.Const):
        return {(): int(e.value)}
    if isinstance(e, N.Name):
        return {(e.name,): 1}
    if isinstance(e, N.Unary) and e.op == "-":
        return _add({}, _poly(e.operand), -1)
    if isinstance(e, N.Call) and e.fn == "i32" and len(e.args) == 1:
        return _poly(e.args[0])
    if isinstance(e, N.Binary):
        a, b = _poly(e.lhs), _poly(e.rhs)
        if e.op == "+":
            return _add(a, b)
        if e.op == "-":
            return _add(a, b, -1)
        if e.op == "*":
            return _mul(a, b)
        if e.op in ("/", "%"):
            d, n = _const_of(b), _const_of(a)
            if d and n is not None:
                return {(): (n // d) if e.op == "/" else (n % d)}
            if e.op == "/" and d == 1:
                return a
            return {((e.op, _freeze(a), d if d else _freeze(b)),): 1}
    raise ValueError(f"not an integer expression: {type(e).__name__}")


def canonical(e: N.Expr) -> Poly:
    """A normal form: equal for dims that are equal as polynomials (`H-R+1` == `1+H-R`)."""
    return _freeze(_poly(e))


def same(a: N.Expr, b: N.Expr) -> bool:
    return canonical(a) == canonical(b)


def evaluate(e: N.Expr, env: Mapping[str, int]) -> int:
    """Evaluate with floor division (shapes and indices are non-negative)."""
    if isinstance(e, N.Const):
        return int(e.value)
    if isinstance(e, N.Name):
        return int(env[e.name])
    if isinstance(e, N.Unary) and e.op == "-":
        return -evaluate(e.operand, env)
    if isinstance(e, N.Call) and e.fn == "i32" and len(e.args) == 1:
        return evaluate(e.args[0], env)
    if isinstance(e, N.Binary):
        a, b = evaluate(e.lhs, env), evaluate(e.rhs, env)
        if e.op == "+":
            return a + b
        if e.op == "-":
            return a - b
        if e.op == "*":
            return a * b
        if b == 0:
            raise ZeroDivisionError("division by zero in an integer expression")
        return a // b if e.op == "/" else a % b
    raise ValueError(f"not an integer expression: {type(e).__name__}")


def interval(e: N.Expr, ranges: Mapping[str, Tuple[int, int]]) -> Tuple[int, int]:
    """Inclusive [lo, hi] of e when each name ranges over its inclusive interval."""
    if isinstance(e, N.Const):
        v = int(e.value)
        return v, v
    if isinstance(e, N.Name):
        return ranges[e.name]
    if isinstance(e, N.Unary) and e.op == "-":
        lo, hi = interval(e.operand, ranges)
        return -hi, -lo
    if isinstance(e, N.Call) and e.fn == "i32" and len(e.args) == 1:
        return interval(e.args[0], ranges)
    if isinstance(e, N.Binary):
        (al, ah), (bl, bh) = interval(e.lhs, ranges), interval(e.rhs, ranges)
        if e.op == "+":
            return al + bl, ah + bh
        if e.op == "-":
            return al - bh, ah - bl
        if e.op == "*":
            c = (al * bl, al * bh, ah * bl, ah * bh)
            return min(c), max(c)
        if e.op == "/" and bl == bh and bl > 0:
            return al // bl, ah // bl
        if e.op == "%" and bl == bh and bl > 0:
            if al >= 0 and ah - al < bl and al % bl <= ah % bl:
                return al % bl, ah % bl
            return 0, bl - 1
    raise ValueError(f"cannot bound {type(e).__name__}")


def names(e: N.Expr):
    """Every Name in e (range bounds included)."""
    for node in N.walk(e):
        if isinstance(node, N.Name):
            yield node.name
        if isinstance(node, N.Reduce):
            for v in node.vars:
                if v.lo is not None:
                    yield from names(v.lo)
                    yield from names(v.hi)
