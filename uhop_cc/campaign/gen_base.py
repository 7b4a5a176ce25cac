"""The state of one generated program: its random stream, the names it has taken, the sizes it
has drawn, and the random elementwise expressions every category builds on.

Everything is drawn from `ProgramBuilder.rng` in a fixed order: the same seed and limits give the
same program, so a change to the order of draws changes every generated program (the campaign's
GENERATOR_VERSION says which order a dataset was made with).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..ir import nodes as N
from .gen_tree import access, binop, float_lit, fn_call, int_lit, names_in, param_of, ref

__all__ = ["Limits", "ProgramBuilder"]

# name families, shuffled per program
_SIZE_POOL = ("N", "M", "K", "R", "C", "L", "T", "E", "F", "H", "W", "D", "S")
_INPUT_POOL = ("X", "A", "B", "U", "V", "P", "Q", "G", "In", "Src", "Lhs", "Rhs", "Img", "Mask", "Wt")
_OUTPUT_POOL = ("Y", "Z", "O", "Out", "Dst", "Res", "Acc")
_SCALAR_POOL = ("alpha", "beta", "gamma", "scale", "eps", "shift", "theta")
_TEMP_POOL = ("tmp", "acc", "mx", "sm", "mu", "var", "nrm", "hid", "act", "sq", "den", "cen")
_INDEX_LETTERS = "ijklmnpqrsuvwxyz"


@dataclass(frozen=True)
class Limits:
    """Shape and type limits of generated programs."""
    min_size: int = 1
    max_size: int = 64
    max_elements: int = 4096  # per tensor (bounds validation cost)
    dtypes: Tuple[str, ...] = ("f32", "f64", "i32")
    max_depth: int = 3

    def __post_init__(self):
        bad = [d for d in self.dtypes if d not in ("f32", "f64", "f16", "i32")]
        if bad or not self.dtypes:
            raise ValueError(f"unknown dtype(s) {bad} (use f32, f64, f16, i32)")
        if not 1 <= self.min_size <= self.max_size:
            raise ValueError("need 1 <= min_size <= max_size")


class ProgramBuilder:
    """Names, sizes, types, constants and elementwise expressions of one program, from one seed."""

    def __init__(self, seed: int, limits: Limits):
        self.rng = random.Random(seed)
        self.lim = limits
        r = self.rng
        letters = list(_INDEX_LETTERS)
        r.shuffle(letters)
        self._index = letters + [f"{c}{d}" for d in range(2, 6) for c in _INDEX_LETTERS]
        self._pools = {}
        for key, pool in (("size", _SIZE_POOL), ("in", _INPUT_POOL), ("out", _OUTPUT_POOL),
                          ("scalar", _SCALAR_POOL), ("temp", _TEMP_POOL)):
            p = list(pool)
            r.shuffle(p)
            self._pools[key] = p
        self._used: set = set()
        self.sizes: Dict[str, int] = {}

    # -- names
    def _fresh(self, key: str) -> str:
        for n in self._pools[key]:
            if n not in self._used:
                self._used.add(n)
                return n
        i = 2
        while True:  # pools exhausted: numbered names of the same family
            for n in self._pools[key]:
                cand = f"{n}{i}"
                if cand not in self._used:
                    self._used.add(cand)
                    return cand
            i += 1

    def idx(self, n: int = 1) -> List[str]:
        out = []
        for v in self._index:
            if v not in self._used:
                self._used.add(v)
                out.append(v)
                if len(out) == n:
                    return out
        raise RuntimeError("index names exhausted")

    def inp(self) -> str:
        return self._fresh("in")

    def out(self) -> str:
        return self._fresh("out")

    def scalar(self) -> str:
        return self._fresh("scalar")

    def temp(self) -> str:
        return self._fresh("temp")

    def size(self, rank: int = 1, lo: int = 1, hi: Optional[int] = None) -> str:
        """A fresh size symbol with a random value; `rank`: how many dims share the element budget."""
        name = self._fresh("size")
        cap = max(1, int(round(self.lim.max_elements ** (1.0 / max(1, rank)))))
        top = min(self.lim.max_size, cap, hi if hi is not None else cap)
        low = max(lo, self.lim.min_size)
        top = max(top, low)
        # favour small and odd sizes sometimes (edges of templates and tails)
        if self.rng.random() < 0.3:
            v = self.rng.randint(low, min(top, low + 8))
        else:
            v = self.rng.randint(low, top)
        self.sizes[name] = v
        return name

    # -- types and constants
    def dtype(self, ints: bool = True) -> str:
        r = self.rng
        allowed = [d for d in self.lim.dtypes if ints or d != "i32"] or ["f32"]
        if "f32" in allowed and r.random() < 0.6:
            return "f32"
        return r.choice(allowed)

    def fdtype(self) -> str:
        return self.dtype(ints=False)

    def const(self, dtype: str, lo: float = 0.1, hi: float = 3.0) -> N.Expr:
        if dtype == "i32":
            return int_lit(self.rng.randint(max(1, int(lo)), max(1, int(hi))))
        return float_lit(round(self.rng.uniform(lo, hi), 2) or 0.5)

    def one(self, dtype: str) -> N.Expr:
        return int_lit(1) if dtype == "i32" else float_lit(1.0)

    def zero(self, dtype: str) -> N.Expr:
        return int_lit(0) if dtype == "i32" else float_lit(0.0)

    def weight(self) -> float:
        w = round(self.rng.uniform(-1.0, 1.0), 2)
        return w if abs(w) >= 0.05 else 0.25

    # -- elementwise expressions
    def ew(self, leaves: Sequence[Callable[[], N.Expr]], dtype: str, depth: int, fns: bool = True) -> N.Expr:
        """A random elementwise expression over `leaves` (zero-argument makers)."""
        r = self.rng
        if depth <= 0 or r.random() < 0.2:
            return r.choice(leaves)()
        isf = dtype != "i32"
        kinds = ["bin", "bin", "bin", "minmax", "unary"] + (["div", "fn"] if isf and fns else [])
        kind = r.choice(kinds)
        sub = lambda: self.ew(leaves, dtype, depth - 1, fns)  # noqa: E731
        if kind == "bin":
            return binop(r.choice("+-*"), sub(), sub())
        if kind == "div":
            return binop("/", sub(), binop("+", fn_call("abs", sub()), self.one(dtype)))
        if kind == "minmax":
            return fn_call(r.choice(("min", "max")), sub(), sub())
        if kind == "unary":
            u = r.choice(("neg", "abs", "relu"))
            return N.Unary("-", sub()) if u == "neg" else fn_call(u, sub())
        return self.safe_fn(sub(), dtype)

    def safe_fn(self, x: N.Expr, dtype: str, name: Optional[str] = None) -> N.Expr:
        """A math function applied so that it stays finite and well conditioned for any bounded x."""
        fn = name or self.rng.choice(("tanh", "sigmoid", "sin", "cos", "exp", "sqrt", "log", "rsqrt"))
        one = self.one(dtype)
        if fn == "exp":
            return fn_call("exp", fn_call("tanh", x))
        if fn in ("sqrt", "log", "rsqrt"):
            return fn_call(fn, binop("+", fn_call("abs", x), one))
        if fn in ("sin", "cos"):  # a large argument would make the result ill-conditioned
            return fn_call(fn, fn_call("tanh", x))
        return fn_call(fn, x)

    def leaves_for(self, tensors: Sequence[Tuple[str, Sequence[str]]], scalars: Sequence[str], dtype: str,
                   consts: bool = True) -> List[Callable[[], N.Expr]]:
        out: List[Callable[[], N.Expr]] = []
        for t, idx in tensors:
            out.append(lambda t=t, idx=tuple(idx): access(t, *idx))
        for s in scalars:
            out.append(lambda s=s: ref(s))
        if consts:
            out.append(lambda: self.const(dtype, 0.1, 3.0 if dtype != "i32" else 5))
        return out

    def use_all(self, e: N.Expr, tensors: Sequence[Tuple[str, Sequence[str]]], scalars: Sequence[str]) -> N.Expr:
        """Make sure every input appears in `e` (an unused parameter makes odd training data)."""
        names = names_in(e)
        for t, idx in tensors:
            if t not in names:
                e = binop(self.rng.choice("+-*"), e, access(t, *idx))
        for s in scalars:
            if s not in names:
                e = binop("*", ref(s), e) if self.rng.random() < 0.5 else binop("+", e, ref(s))
        return e

    def elementwise_frame(self, rank_lo=1, rank_hi=3, n_in=(1, 3), scalar_p=0.4, dtype=None):
        """Output dims/vars and inputs (full rank, some broadcast over trailing dims)."""
        r = self.rng
        rank = r.randint(rank_lo, rank_hi)
        dims = [self.size(rank) for _ in range(rank)]
        vars_ = self.idx(rank)
        dtype = dtype or self.dtype()
        tensors, params = [], []
        for t in range(r.randint(*n_in)):
            name = self.inp()
            if t > 0 and rank > 1 and r.random() < 0.25:
                k = r.randint(1, rank - 1)
                tdims, tidx = dims[rank - k:], vars_[rank - k:]
            else:
                tdims, tidx = dims, vars_
            tensors.append((name, tidx))
            params.append(param_of(name, dtype, tdims))
        scalars = []
        if r.random() < scalar_p:
            s = self.scalar()
            scalars.append(s)
            params.append(param_of(s, dtype, None))
        return rank, dims, vars_, dtype, tensors, scalars, params
