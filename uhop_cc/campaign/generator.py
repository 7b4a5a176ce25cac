"""Random *valid* UIR programs by category, deterministic from a seed.

    from uhop_cc.campaign.generator import generate, CATEGORIES, Limits
    g = generate("stencil2d", seed=1234)          # GeneratedProgram
    g.source                                      # canonical UIR text (printer output)
    bound = g.bind()                              # checked and bound for g.sizes

Programs are built as syntax trees (`uhop_cc.ir.nodes`), printed with the canonical printer
and checked from the tree, so no parse is needed on the hot path (`parse(g.source)` gives the
same tree back). Every program checks and binds for its sizes by construction: accesses use
index variables whose ranges match the tensor dims, shifted accesses are either inside an
interior output (`H - 2`) or guarded by a `select`, divisions and logarithms see values kept
away from zero, and exponentials see bounded arguments, so validation against the reference
interpreter is meaningful.

Categories (`CATEGORIES`) and the lowering category (`uhop_cc.lower.category`) each one
classifies as: arithmetic, math_chain and select are `elementwise`; transform is `transform`;
reduction is `reduction`; matrix is `matmul`; stencil2d and stencil3d are `stencil`; pooling
is `pooling`; fused is `fused`; vector (BLAS-1 style kernels) spans several (`ALLOWED`).
"""
from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

from ..ir import nodes as N
from ..ir import printer

__all__ = ["CATEGORIES", "INTENDED", "ALLOWED", "Limits", "GeneratedProgram", "generate", "derive_seed",
           "GENERATOR_VERSION"]

GENERATOR_VERSION = 1

CATEGORIES = ("arithmetic", "math_chain", "transform", "reduction", "matrix", "vector", "stencil2d",
              "stencil3d", "pooling", "select", "fused")

# The lower/category.py category each generator category classifies as (None: it spans several).
INTENDED: Dict[str, Optional[str]] = {
    "arithmetic": "elementwise", "math_chain": "elementwise", "transform": "transform",
    "reduction": "reduction", "matrix": "matmul", "vector": None, "stencil2d": "stencil",
    "stencil3d": "stencil", "pooling": "pooling", "select": "elementwise", "fused": "fused",
}
ALLOWED: Dict[str, FrozenSet[str]] = {
    c: frozenset([v]) if v else frozenset({"elementwise", "reduction", "matmul", "transform"})
    for c, v in INTENDED.items()
}

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


@dataclass(frozen=True)
class GeneratedProgram:
    category: str
    seed: int
    name: str
    variant: str
    source: str
    sizes: Dict[str, int]
    program: N.Program = field(compare=False, repr=False)

    @property
    def intended(self) -> Optional[str]:
        return INTENDED[self.category]

    @property
    def kernel(self) -> N.Kernel:
        return self.program.kernels[0]

    def check(self):
        """The CheckedKernel (checked from the tree: no parse). Raises UirError."""
        from ..ir.checker import check_program
        from ..ir.errors import SourceText
        return check_program(self.program, SourceText(self.source, f"<{self.name}>"))[0]

    def bind(self, checked=None):
        from ..ir import bind_shapes
        ck = checked if checked is not None else self.check()
        return bind_shapes(ck, {s: self.sizes[s] for s in ck.sizes})

    def to_json(self) -> dict:
        return {"category": self.category, "seed": self.seed, "name": self.name, "variant": self.variant,
                "source": self.source, "sizes": dict(self.sizes)}


def derive_seed(campaign_seed: int, category: str, n: int) -> int:
    """A stable 63-bit seed for the n-th program of a category (independent of Python's hash seed)."""
    h = hashlib.sha256(f"uhopc-campaign:{int(campaign_seed)}:{category}:{int(n)}".encode()).digest()
    return int.from_bytes(h[:8], "big") >> 1


def generate(category: str, seed: int, limits: Optional[Limits] = None, index: Optional[int] = None) \
        -> GeneratedProgram:
    """One random program of `category`, fully determined by (category, seed, limits)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category `{category}` (known: {', '.join(CATEGORIES)})")
    g = _Gen(int(seed), limits or Limits())
    variant, kernel = getattr(g, "cat_" + category)()
    name = f"{variant}_{index if index is not None else int(seed) % 1000000}"
    kernel = N.Kernel(name, kernel.inputs, kernel.outputs, kernel.body)
    program = N.Program((kernel,), filename=f"<{name}>")
    used = _used_sizes(kernel)
    sizes = {s: g.sizes[s] for s in used}
    return GeneratedProgram(category, int(seed), name, variant, printer.program(program), sizes, program)


def _used_sizes(k: N.Kernel) -> List[str]:
    out: List[str] = []
    for p in k.inputs + k.outputs:
        for d in p.shape or ():
            for node in N.walk(d):
                if isinstance(node, N.Name) and node.name not in out:
                    out.append(node.name)
    return out


# ------------------------------------------------------------------ tree helpers
def _name(n: str) -> N.Name:
    return N.Name(n)


def _bin(op: str, a: N.Expr, b: N.Expr) -> N.Binary:
    return N.Binary(op, a, b)


def _call(fn: str, *args: N.Expr) -> N.Call:
    return N.Call(fn, tuple(args))


def _acc(t: str, *idx) -> N.Access:
    return N.Access(t, tuple(_name(i) if isinstance(i, str) else i for i in idx))


def _tacc(pair) -> N.Access:
    t, idx = pair
    return _acc(t, *idx)


def _int(v: int) -> N.Expr:
    return N.Const(int(v), False) if v >= 0 else N.Unary("-", N.Const(-int(v), False))


def _float(v: float) -> N.Expr:
    v = float(v) + 0.0  # no negative zero: it has no UIR spelling
    if v == 0:
        v = 0.0
    return N.Const(v, True) if v >= 0 else N.Unary("-", N.Const(-v, True))


def _shift(var: str, k: int) -> N.Expr:
    if k == 0:
        return _name(var)
    return _bin("+", _name(var), _int(k)) if k > 0 else _bin("-", _name(var), _int(-k))


def _sum(terms: Sequence[N.Expr]) -> N.Expr:
    out = terms[0]
    for t in terms[1:]:
        out = _bin("+", out, t)
    return out


def _and(conds: Sequence[N.Expr]) -> Optional[N.Expr]:
    if not conds:
        return None
    out = conds[0]
    for c in conds[1:]:
        out = _bin("and", out, c)
    return out


def _reduce(op: str, rvars, body: N.Expr) -> N.Reduce:
    vs = []
    for v in rvars:
        if isinstance(v, str):
            vs.append(N.RVar(v))
        else:
            vs.append(N.RVar(v[0], _int(v[1]) if isinstance(v[1], int) else v[1],
                             _int(v[2]) if isinstance(v[2], int) else v[2]))
    return N.Reduce(op, tuple(vs), body)


def _param(name: str, dtype: str, dims: Optional[Sequence]) -> N.Param:
    if dims is None:
        return N.Param(name, dtype, None)
    return N.Param(name, dtype, tuple(_name(d) if isinstance(d, str) else d for d in dims))


def _stmt(target: str, idx: Sequence[str], value: N.Expr) -> N.Stmt:
    return N.Stmt(target, tuple(idx), value)


def _kernel(inputs, outputs, body) -> N.Kernel:
    return N.Kernel("k", tuple(inputs), tuple(outputs), tuple(body))


def _names_in(e: N.Expr) -> set:
    out = set()
    for n in N.walk(e):
        if isinstance(n, N.Access):
            out.add(n.tensor)
        elif isinstance(n, N.Name):
            out.add(n.name)
    return out


# ------------------------------------------------------------------ the generator
class _Gen:
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
            return _int(self.rng.randint(max(1, int(lo)), max(1, int(hi))))
        return _float(round(self.rng.uniform(lo, hi), 2) or 0.5)

    def one(self, dtype: str) -> N.Expr:
        return _int(1) if dtype == "i32" else _float(1.0)

    def zero(self, dtype: str) -> N.Expr:
        return _int(0) if dtype == "i32" else _float(0.0)

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
            return _bin(r.choice("+-*"), sub(), sub())
        if kind == "div":
            return _bin("/", sub(), _bin("+", _call("abs", sub()), self.one(dtype)))
        if kind == "minmax":
            return _call(r.choice(("min", "max")), sub(), sub())
        if kind == "unary":
            u = r.choice(("neg", "abs", "relu"))
            return N.Unary("-", sub()) if u == "neg" else _call(u, sub())
        return self.safe_fn(sub(), dtype)

    def safe_fn(self, x: N.Expr, dtype: str, name: Optional[str] = None) -> N.Expr:
        """A math function applied so that it stays finite and well conditioned for any bounded x."""
        fn = name or self.rng.choice(("tanh", "sigmoid", "sin", "cos", "exp", "sqrt", "log", "rsqrt"))
        one = self.one(dtype)
        if fn == "exp":
            return _call("exp", _call("tanh", x))
        if fn in ("sqrt", "log", "rsqrt"):
            return _call(fn, _bin("+", _call("abs", x), one))
        if fn in ("sin", "cos"):  # a large argument would make the result ill-conditioned
            return _call(fn, _call("tanh", x))
        return _call(fn, x)

    def leaves_for(self, tensors: Sequence[Tuple[str, Sequence[str]]], scalars: Sequence[str], dtype: str,
                   consts: bool = True) -> List[Callable[[], N.Expr]]:
        out: List[Callable[[], N.Expr]] = []
        for t, idx in tensors:
            out.append(lambda t=t, idx=tuple(idx): _acc(t, *idx))
        for s in scalars:
            out.append(lambda s=s: _name(s))
        if consts:
            out.append(lambda: self.const(dtype, 0.1, 3.0 if dtype != "i32" else 5))
        return out

    def use_all(self, e: N.Expr, tensors: Sequence[Tuple[str, Sequence[str]]], scalars: Sequence[str]) -> N.Expr:
        """Make sure every input appears in `e` (an unused parameter makes odd training data)."""
        names = _names_in(e)
        for t, idx in tensors:
            if t not in names:
                e = _bin(self.rng.choice("+-*"), e, _acc(t, *idx))
        for s in scalars:
            if s not in names:
                e = _bin("*", _name(s), e) if self.rng.random() < 0.5 else _bin("+", e, _name(s))
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
            params.append(_param(name, dtype, tdims))
        scalars = []
        if r.random() < scalar_p:
            s = self.scalar()
            scalars.append(s)
            params.append(_param(s, dtype, None))
        return rank, dims, vars_, dtype, tensors, scalars, params

    # ================================================================ categories
    def cat_arithmetic(self):
        r = self.rng
        rank, dims, vars_, dtype, tensors, scalars, params = self.elementwise_frame()
        leaves = self.leaves_for(tensors, scalars, dtype)
        depth = r.randint(1, self.lim.max_depth)
        e = self.ew(leaves, dtype, depth, fns=False)
        e = self.use_all(e, tensors, scalars)
        out = self.out()
        variant = {"i32": "iarith", "f64": "darith"}.get(dtype, "arith")
        return variant, _kernel(params, [_param(out, dtype, dims)], [_stmt(out, vars_, e)])

    def cat_math_chain(self):
        r = self.rng
        rank, dims, vars_, dtype, tensors, scalars, params = self.elementwise_frame(1, 2, (1, 2), 0.3,
                                                                                    self.fdtype())
        one = self.one(dtype)
        chains = []
        for t, idx in tensors:
            x: N.Expr = _acc(t, *idx)
            bound = 1.0
            for _ in range(r.randint(2, 5)):
                fn = r.choice(("tanh", "sigmoid", "sin", "cos", "exp", "sqrt", "log", "rsqrt", "square", "affine",
                               "pow", "relu", "abs"))
                if fn == "exp":
                    if bound > 3.0:
                        x, bound = _call("tanh", x), 1.0
                    x, bound = _call("exp", x), 2.718281828 ** bound
                elif fn in ("sqrt", "log", "rsqrt"):
                    x = _call(fn, _bin("+", _call("abs", x), one))
                    bound = {"sqrt": (bound + 1) ** 0.5, "log": bound, "rsqrt": 1.0}[fn]
                elif fn == "square":
                    if bound > 8:
                        x, bound = _call("tanh", x), 1.0
                    x, bound = _bin("*", x, x), bound * bound
                elif fn == "affine":
                    a, b = round(r.uniform(0.25, 2.0), 2), round(r.uniform(-1.0, 1.0), 2)
                    x, bound = _bin("+", _bin("*", _float(a), x), _float(b)), a * bound + abs(b)
                elif fn == "pow":
                    p = r.choice((0.5, 1.5, 2.0, 3.0))
                    if bound > 4:
                        x, bound = _call("tanh", x), 1.0
                    x, bound = _call("pow", _bin("+", _call("abs", x), one), _float(p)), (bound + 1) ** p
                elif fn in ("relu", "abs"):
                    x = _call(fn, x)
                else:
                    if fn in ("sin", "cos") and bound > 2.0:
                        x = _call("tanh", x)
                    x, bound = _call(fn, x), 1.0
                if bound > 16.0:  # keep values (and the conditioning of what follows) moderate
                    x, bound = _call("tanh", x), 1.0
            chains.append(x)
        e = chains[0]
        for c in chains[1:]:
            e = _bin(r.choice("+-*"), e, c)
        if scalars:
            e = _bin("*", _name(scalars[0]), e)
        out = self.out()
        return "mathchain", _kernel(params, [_param(out, dtype, dims)], [_stmt(out, vars_, e)])

    def cat_select(self):
        r = self.rng
        variant = r.choice(("leaky", "clamp", "where", "piecewise", "parity", "mask", "nested"))
        if variant in ("leaky", "clamp", "piecewise"):
            dtype = self.fdtype()
        else:
            dtype = self.dtype()
        rank, dims, vars_, dtype, tensors, scalars, params = self.elementwise_frame(
            1, 2, (1, 1) if variant in ("leaky", "clamp", "piecewise") else (2, 3), 0.3, dtype)
        leaves = self.leaves_for(tensors, scalars, dtype)
        x = _tacc(tensors[0])
        if variant == "leaky":
            e = N.Call("select", (_bin(">", x, self.zero(dtype)), x, _bin("*", _float(round(r.uniform(0.01, 0.3), 2)), x)))
        elif variant == "clamp":
            lo, hi = round(r.uniform(-0.9, -0.1), 2), round(r.uniform(0.1, 0.9), 2)
            e = _call("select", _bin("<", x, _float(lo)), _float(lo),
                      _call("select", _bin(">", x, _float(hi)), _float(hi), x))
        elif variant == "piecewise":
            t = round(r.uniform(-0.5, 0.5), 2)
            e = _call("select", _bin(r.choice(("<", "<=", ">", ">=")), x, _float(t)),
                      self.ew(leaves, dtype, 2), self.ew(leaves, dtype, 2))
        elif variant == "parity":
            v = r.choice(vars_)
            cond = _bin("==", _bin("%", _name(v), _int(2)), _int(0)) if r.random() < 0.5 else \
                _bin("<", _name(v), _bin("/", _name(dims[vars_.index(v)]), _int(2)))
            e = _call("select", cond, self.ew(leaves, dtype, 2), self.ew(leaves, dtype, 2))
        elif variant == "where":
            mask, b = _tacc(tensors[0]), _tacc(tensors[1])  # where(mask, B, f(...))
            e = _call("select", _bin(r.choice((">", "<", ">=", "<=", "!=")), mask, self.zero(dtype)),
                      b, self.ew(leaves, dtype, 1))
        else:
            e = self._nested_select(tensors, leaves, dtype, r.randint(1, 3))
        e = self.use_all(e, tensors, scalars)
        out = self.out()
        return f"sel_{variant}", _kernel(params, [_param(out, dtype, dims)], [_stmt(out, vars_, e)])

    def _cond(self, tensors, dtype) -> N.Expr:
        """A condition on raw leaves only: kernel and interpreter agree on it exactly."""
        r = self.rng
        a = _tacc(r.choice(tensors))
        if r.random() < 0.5 and len(tensors) > 1:
            b = _tacc(r.choice(tensors))
        else:
            b = self.const(dtype, 0, 3) if r.random() < 0.5 else self.zero(dtype)
        c = _bin(r.choice(("<", "<=", ">", ">=", "==", "!=")), a, b)
        k = r.random()
        if k < 0.2:
            return N.Unary("not", c)
        if k < 0.45:
            return _bin(r.choice(("and", "or")), c, self._cond(tensors, dtype) if r.random() < 0.3 else
                        _bin(r.choice(("<", ">")), _tacc(r.choice(tensors)), self.zero(dtype)))
        return c

    def _nested_select(self, tensors, leaves, dtype, depth) -> N.Expr:
        if depth <= 0:
            return self.ew(leaves, dtype, 1)
        return _call("select", self._cond(tensors, dtype), self._nested_select(tensors, leaves, dtype, depth - 1),
                     self._nested_select(tensors, leaves, dtype, depth - 1 - (self.rng.random() < 0.5)))

    # ---------------------------------------------------------------- transform
    def cat_transform(self):
        r = self.rng
        variant = r.choice(("transpose", "permute3", "flip", "stride", "crop", "pad", "concat", "upsample",
                            "bcast_col", "reshape", "diag", "flip_t"))
        dtype = self.dtype()
        X, Y = self.inp(), self.out()
        scale = (lambda e: _bin("*", self.const(dtype, 0.5, 2.0 if dtype != "i32" else 3), e)) \
            if r.random() < 0.3 else (lambda e: e)
        if variant == "transpose":
            H, W = self.size(2), self.size(2)
            i, j = self.idx(2)
            return variant, _kernel([_param(X, dtype, [H, W])], [_param(Y, dtype, [W, H])],
                                    [_stmt(Y, [i, j], scale(_acc(X, j, i)))])
        if variant == "permute3":
            ds = [self.size(3) for _ in range(3)]
            vs = self.idx(3)
            perm = [0, 1, 2]
            while perm == [0, 1, 2]:
                r.shuffle(perm)
            # Y[v0, v1, v2] = X[...] where X dim perm[a] is Y dim a
            xdims = [None] * 3
            xidx = [None] * 3
            for a in range(3):
                xdims[perm[a]] = ds[a]
                xidx[perm[a]] = vs[a]
            return variant, _kernel([_param(X, dtype, xdims)], [_param(Y, dtype, ds)],
                                    [_stmt(Y, vs, scale(_acc(X, *xidx)))])
        if variant in ("flip", "flip_t"):
            rank = r.randint(1, 2)
            ds = [self.size(rank) for _ in range(rank)]
            vs = self.idx(rank)
            ax = r.randrange(rank)
            idx = [(_bin("-", _bin("-", _name(ds[a]), _int(1)), _name(vs[a])) if a == ax else _name(vs[a]))
                   for a in range(rank)]
            if variant == "flip_t" and rank == 2:
                return variant, _kernel([_param(X, dtype, ds)], [_param(Y, dtype, ds[::-1])],
                                        [_stmt(Y, vs[::-1], scale(_acc(X, *idx)))])
            return "flip", _kernel([_param(X, dtype, ds)], [_param(Y, dtype, ds)], [_stmt(Y, vs, scale(_acc(X, *idx)))])
        if variant == "stride":
            s = r.randint(2, 4)
            o = r.randrange(s)
            Nn = self.size(1, lo=s)
            (i,) = self.idx(1)
            ix = _bin("*", _int(s), _name(i))
            if o:
                ix = _bin("+", ix, _int(o))
            return variant, _kernel([_param(X, dtype, [Nn])], [_param(Y, dtype, [_bin("/", _name(Nn), _int(s))])],
                                    [_stmt(Y, [i], scale(_acc(X, ix)))])
        if variant == "crop":
            H, W = self.size(2, lo=4), self.size(2, lo=4)
            i, j = self.idx(2)
            a, b = r.randint(0, 3), r.randint(1, 3)
            return variant, _kernel([_param(X, dtype, [H, W])],
                                    [_param(Y, dtype, [_bin("-", _name(H), _int(a)) if a else H,
                                                       _bin("-", _name(W), _int(b))])],
                                    [_stmt(Y, [i, j], scale(_acc(X, _shift(i, a), _shift(j, b))))])
        if variant == "pad":
            p = r.randint(1, 3)
            Nn = self.size(1, hi=max(1, self.lim.max_elements - 2 * p))
            (i,) = self.idx(1)
            cond = _bin("and", _bin(">=", _name(i), _int(p)), _bin("<", _name(i), _bin("+", _name(Nn), _int(p))))
            fill = self.zero(dtype) if r.random() < 0.7 else self.const(dtype, 0.5, 2)
            return variant, _kernel([_param(X, dtype, [Nn])],
                                    [_param(Y, dtype, [_bin("+", _name(Nn), _int(2 * p))])],
                                    [_stmt(Y, [i], _call("select", cond, scale(_acc(X, _shift(i, -p))), fill))])
        if variant == "concat":
            A2 = X
            B2 = self.inp()
            Na = self.size(1, hi=max(1, self.lim.max_elements // 2))
            Nb = self.size(1, hi=max(1, self.lim.max_elements // 2))
            (i,) = self.idx(1)
            return variant, _kernel([_param(A2, dtype, [Na]), _param(B2, dtype, [Nb])],
                                    [_param(Y, dtype, [_bin("+", _name(Na), _name(Nb))])],
                                    [_stmt(Y, [i], _call("select", _bin("<", _name(i), _name(Na)), _acc(A2, i),
                                                         _acc(B2, _bin("-", _name(i), _name(Na)))))])
        if variant == "upsample":
            s = r.randint(2, 3)
            H, W = self.size(2, hi=max(1, int(self.lim.max_elements ** 0.5) // s)), \
                self.size(2, hi=max(1, int(self.lim.max_elements ** 0.5) // s))
            i, j = self.idx(2)
            return variant, _kernel([_param(X, dtype, [H, W])],
                                    [_param(Y, dtype, [_bin("*", _name(H), _int(s)), _bin("*", _name(W), _int(s))])],
                                    [_stmt(Y, [i, j], scale(_acc(X, _bin("/", _name(i), _int(s)),
                                                                 _bin("/", _name(j), _int(s)))))])
        if variant == "bcast_col":
            H, W = self.size(2), self.size(2)
            i, j = self.idx(2)
            return variant, _kernel([_param(X, dtype, [H])], [_param(Y, dtype, [H, W])],
                                    [_stmt(Y, [i, j], scale(_acc(X, i)))])
        if variant == "reshape":
            H, W = self.size(2), self.size(2)
            i, j = self.idx(2)
            return variant, _kernel([_param(X, dtype, [_bin("*", _name(H), _name(W))])], [_param(Y, dtype, [H, W])],
                                    [_stmt(Y, [i, j], scale(_acc(X, _bin("+", _bin("*", _name(i), _name(W)),
                                                                           _name(j)))))])
        # diag
        Nn = self.size(2)
        (i,) = self.idx(1)
        return "diag", _kernel([_param(X, dtype, [Nn, Nn])], [_param(Y, dtype, [Nn])],
                               [_stmt(Y, [i], scale(_acc(X, i, i)))])

    # ---------------------------------------------------------------- reduction
    def cat_reduction(self):
        r = self.rng
        variant = r.choice(("row", "col", "full", "mean", "l1", "l2", "lse", "maxabs", "mid3", "count", "prod",
                            "range"))
        ints_ok = variant in ("row", "col", "full", "mid3", "count")
        dtype = self.dtype(ints=ints_ok)
        X, Y = self.inp(), self.out()
        op = r.choice(("sum", "max", "min")) if variant in ("row", "col", "full", "mid3") else "sum"
        if variant == "mid3":
            ds = [self.size(3) for _ in range(3)]
            a, b, c = self.idx(3)
            body = self._red_body(_acc(X, a, b, c), dtype)
            return f"red_{op}_mid", _kernel([_param(X, dtype, ds)], [_param(Y, dtype, [ds[0], ds[2]])],
                                            [_stmt(Y, [a, c], _reduce(op, [b], body))])
        if variant == "full":
            rank = r.randint(1, 2)
            ds = [self.size(rank) for _ in range(rank)]
            vs = self.idx(rank)
            body = self._red_body(_acc(X, *vs), dtype)
            return f"red_{op}_all", _kernel([_param(X, dtype, ds)], [_param(Y, dtype, [])],
                                            [_stmt(Y, [], _reduce(op, vs, body))])
        R, C = self.size(2), self.size(2, lo=4 if variant in ("prod", "range") else 1)
        i, j = self.idx(2)
        x = _acc(X, i, j)
        one = self.one(dtype)
        if variant == "row":
            e = _reduce(op, [j], self._red_body(x, dtype))
        elif variant == "col":
            e = _reduce(op, [i], self._red_body(x, dtype))
            return f"red_{op}_col", _kernel([_param(X, dtype, [R, C])], [_param(Y, dtype, [C])], [_stmt(Y, [j], e)])
        elif variant == "mean":
            e = _bin("/", _reduce("sum", [j], x), _name(C)) if r.random() < 0.5 else \
                _reduce("sum", [j], _bin("/", x, _name(C)))
        elif variant == "l1":
            e = _reduce("sum", [j], _call("abs", x))
        elif variant == "l2":
            e = _call("sqrt", _reduce("sum", [j], _call("pow", x, _float(2.0))))
        elif variant == "lse":
            e = _call("log", _reduce("sum", [j], _call("exp", x)))
        elif variant == "maxabs":
            e = _reduce("max", [j], _call("abs", x))
        elif variant == "count":
            e = _reduce("sum", [j], _call("select", _bin(r.choice((">", "<", ">=")), x, self.zero(dtype)),
                                          one, self.zero(dtype)))
        elif variant == "prod":
            k = r.randint(2, 4)
            (p,) = self.idx(1)
            e = _reduce("prod", [(p, 0, k)], _bin("+", one, _bin("*", _float(0.25), _acc(X, i, p))))
        else:  # range: an explicit sub-range of the row
            lo = r.randint(0, 2)
            (p,) = self.idx(1)
            e = _reduce(r.choice(("sum", "max")), [(p, lo, _name(C))], _acc(X, i, p))
        return f"red_{variant}", _kernel([_param(X, dtype, [R, C])], [_param(Y, dtype, [R])], [_stmt(Y, [i], e)])

    def _red_body(self, x: N.Expr, dtype: str) -> N.Expr:
        r = self.rng
        k = r.random()
        if k < 0.5 or dtype == "i32":
            return x if dtype != "i32" or k < 0.7 else _call("abs", x)
        if k < 0.7:
            return _bin("*", x, self.const(dtype, 0.25, 2.0))
        return self.safe_fn(x, dtype, r.choice(("tanh", "sigmoid", "exp", "sin")))

    # ---------------------------------------------------------------- matrix
    def cat_matrix(self):
        r = self.rng
        dtype = self.fdtype()
        kind = r.choice(("mm", "mm", "mm", "bmm", "mv", "vm"))
        Am, Bm, Cm = self.inp(), self.inp(), self.out()
        params, extra_in = [], []
        if kind in ("mm", "bmm"):
            rank = 3 if kind == "bmm" else 2
            M, Nn, K = self.size(rank), self.size(rank), self.size(rank)
            i, j, k = self.idx(3)
            ta, tb = r.random() < 0.35, r.random() < 0.35
            adims, aidx = ([K, M], [k, i]) if ta else ([M, K], [i, k])
            bdims, bidx = ([Nn, K], [j, k]) if tb else ([K, Nn], [k, j])
            cdims, cidx = [M, Nn], [i, j]
            if kind == "bmm":
                Bt = self.size(3, hi=8)
                (b,) = self.idx(1)
                adims, aidx, cdims, cidx = [Bt] + adims, [b] + aidx, [Bt] + cdims, [b] + cidx
                if r.random() < 0.7:
                    bdims, bidx = [Bt] + bdims, [b] + bidx
            variant = ("bmm_" if kind == "bmm" else "mm_") + ("t" if ta else "n") + ("t" if tb else "n")
        elif kind == "mv":
            M, K = self.size(2), self.size(2)
            i, k = self.idx(2)
            adims, aidx, bdims, bidx, cdims, cidx = [M, K], [i, k], [K], [k], [M], [i]
            Nn, j, variant = M, i, "matvec"
        else:
            K, Nn = self.size(2), self.size(2)
            k, j = self.idx(2)
            adims, aidx, bdims, bidx, cdims, cidx = [K], [k], [K, Nn], [k, j], [Nn], [j]
            variant = "vecmat"
        params += [_param(Am, dtype, adims), _param(Bm, dtype, bdims)]
        core = _reduce("sum", [k], _bin("*", _acc(Am, *aidx), _acc(Bm, *bidx)))
        e: N.Expr = core
        epi = r.choice(("none", "none", "alpha", "bias", "act", "axpby", "bias_act"))
        if epi in ("alpha", "axpby"):
            s = self.scalar()
            params.append(_param(s, dtype, None))
            e = _bin("*", _name(s), e)
        if epi == "axpby":
            Cin = self.inp()
            params.append(_param(Cin, dtype, cdims))
            e = _bin("+", _bin("*", self.const(dtype, 0.25, 1.5), _acc(Cin, *cidx)), e)
        if epi in ("bias", "bias_act"):
            bias = self.inp()
            last = cdims[-1]
            params.append(_param(bias, dtype, [last]))
            e = _bin("+", _acc(bias, cidx[-1]), e)
        if epi in ("act", "bias_act"):
            e = _call(r.choice(("relu", "tanh", "sigmoid")), e)
        if epi != "none":
            variant += "_" + epi
        return variant, _kernel(params + extra_in, [_param(Cm, dtype, cdims)], [_stmt(Cm, cidx, e)])

    # ---------------------------------------------------------------- vector (BLAS-1)
    def cat_vector(self):
        r = self.rng
        variant = r.choice(("axpy", "axpby", "scal", "dot", "nrm2", "asum", "amax", "outer", "lerp", "rot", "wsum"))
        dtype = self.dtype(ints=variant in ("axpy", "scal", "dot", "asum", "amax", "outer"))
        Nn = self.size(1)
        (i,) = self.idx(1)
        X, Yv = self.inp(), self.inp()
        x, y = _acc(X, i), _acc(Yv, i)
        vec = lambda n: _param(n, dtype, [Nn])  # noqa: E731
        if variant in ("axpy", "axpby", "scal", "lerp"):
            a = self.scalar()
            Z = self.out()
            if variant == "axpy":
                e, ins = _bin("+", _bin("*", _name(a), x), y), [_param(a, dtype, None), vec(X), vec(Yv)]
            elif variant == "axpby":
                b = self.scalar()
                e = _bin("+", _bin("*", _name(a), x), _bin("*", _name(b), y))
                ins = [_param(a, dtype, None), vec(X), _param(b, dtype, None), vec(Yv)]
            elif variant == "scal":
                e, ins = _bin("*", _name(a), x), [_param(a, dtype, None), vec(X)]
            else:
                e = _bin("+", x, _bin("*", _name(a), _bin("-", y, x)))
                ins = [vec(X), vec(Yv), _param(a, dtype, None)]
            return variant, _kernel(ins, [vec(Z)], [_stmt(Z, [i], e)])
        if variant == "rot":
            c, s = self.scalar(), self.scalar()
            Xo, Yo = self.out(), self.out()
            return variant, _kernel([vec(X), vec(Yv), _param(c, dtype, None), _param(s, dtype, None)],
                                    [vec(Xo), vec(Yo)],
                                    [_stmt(Xo, [i], _bin("+", _bin("*", _name(c), x), _bin("*", _name(s), y))),
                                     _stmt(Yo, [i], _bin("-", _bin("*", _name(c), y), _bin("*", _name(s), x)))])
        if variant == "outer":
            Mm = self.size(2, hi=max(1, self.lim.max_elements // self.sizes[Nn]))
            (j,) = self.idx(1)
            Nn2 = Nn
            A = self.out()
            return variant, _kernel([_param(X, dtype, [Nn2]), _param(Yv, dtype, [Mm])], [_param(A, dtype, [Nn2, Mm])],
                                    [_stmt(A, [i, j], _bin("*", _acc(X, i), _acc(Yv, j)))])
        S = self.out()
        if variant == "dot":
            e, ins = _reduce("sum", [i], _bin("*", x, y)), [vec(X), vec(Yv)]
        elif variant == "nrm2":
            e, ins = _call("sqrt", _reduce("sum", [i], _call("pow", x, _float(2.0)))), [vec(X)]
        elif variant == "asum":
            e, ins = _reduce("sum", [i], _call("abs", x)), [vec(X)]
        elif variant == "amax":
            e, ins = _reduce("max", [i], _call("abs", x)), [vec(X)]
        else:  # wsum: a weighted mean
            e = _bin("/", _reduce("sum", [i], _bin("*", _call("abs", y), x)),
                     _bin("+", _reduce("sum", [i], _call("abs", y)), self.one(dtype)))
            ins = [vec(X), vec(Yv)]
        return variant, _kernel(ins, [_param(S, dtype, [])], [_stmt(S, [], e)])

    # ---------------------------------------------------------------- stencils
    def _stencil_offsets(self, ndim: int, radius: int) -> List[Tuple[int, ...]]:
        r = self.rng
        box = list(itertools.product(range(-radius, radius + 1), repeat=ndim))
        shape = r.choice(("star", "box", "random", "star"))
        center = (0,) * ndim
        if shape == "star":
            offs = [o for o in box if sum(1 for v in o if v) <= 1]
        elif shape == "box":
            offs = box if len(box) <= 27 else [o for o in box if sum(abs(v) for v in o) <= radius]
        else:
            k = r.randint(2, min(len(box) - 1, 9))
            offs = [center] + r.sample([o for o in box if o != center], k)
        if center not in offs:
            offs.append(center)
        return sorted(set(offs))

    def _stencil(self, ndim: int):
        r = self.rng
        radius = 1 if ndim == 3 else r.choice((1, 1, 2))
        mode = r.choice(("valid", "valid", "same"))
        dtype = self.fdtype()
        X, Y = self.inp(), self.out()
        lead_d, lead_v = [], []
        budget = self.lim.max_elements
        if r.random() < 0.25:
            lead_d, lead_v = [self.size(ndim + 1, hi=4)], self.idx(1)
            budget = max(1, budget // self.sizes[lead_d[0]])
        cap = int(budget ** (1.0 / ndim))
        ds = [self.size(ndim, lo=2 * radius + 1, hi=max(cap, 2 * radius + 1)) for _ in range(ndim)]
        vs = self.idx(ndim)
        offs = self._stencil_offsets(ndim, radius)
        kind = r.choice(("weights", "weights", "heat", "max", "min"))
        if mode == "valid":
            out_dims = [_bin("-", _name(d), _int(2 * radius)) for d in ds]
        else:
            out_dims = [_name(d) for d in ds]

        def at(o):
            if mode == "valid":
                idx = [_shift(v, radius + k) for v, k in zip(vs, o)]
                return _acc(X, *lead_v, *idx)
            idx = [_shift(v, k) for v, k in zip(vs, o)]
            conds = []
            for v, k, d in zip(vs, o, ds):
                if k < 0:
                    conds.append(_bin(">=", _name(v), _int(-k)))
                elif k > 0:
                    conds.append(_bin("<", _bin("+", _name(v), _int(k)), _name(d)))
            a = _acc(X, *lead_v, *idx)
            cond = _and(conds)
            return a if cond is None else _call("select", cond, a, _float(0.0))

        params = [_param(X, dtype, lead_d + ds)]
        center = (0,) * ndim
        if kind in ("max", "min"):
            e = at(offs[0])
            for o in offs[1:]:
                e = _call(kind, e, at(o))
        elif kind == "heat":
            a = self.scalar()
            params.append(_param(a, dtype, None))
            nb = [o for o in offs if o != center] or [center]
            lap = _bin("-", _sum([at(o) for o in nb]), _bin("*", _float(float(len(nb))), at(center)))
            e = _bin("+", at(center), _bin("*", _name(a), lap))
        else:
            e = _sum([_bin("*", _float(self.weight()), at(o)) for o in offs])
        if r.random() < 0.2:  # a variable coefficient field
            Kf = self.inp()
            params.append(_param(Kf, dtype, lead_d + out_dims))
            e = _bin("*", _acc(Kf, *lead_v, *vs), e)
        # the center must be read through a shift in valid mode (it is, radius >= 1); in same mode
        # make sure at least one neighbour is read, so the program is a stencil
        if len(offs) == 1:
            e = _bin("+", e, at(tuple(1 if a == 0 else 0 for a in range(ndim))))
        variant = f"st{ndim}d_{kind}_{mode}_r{radius}"
        return variant, _kernel(params, [_param(Y, dtype, lead_d + out_dims)], [_stmt(Y, lead_v + vs, e)])

    def cat_stencil2d(self):
        return self._stencil(2)

    def cat_stencil3d(self):
        return self._stencil(3)

    # ---------------------------------------------------------------- pooling
    def cat_pooling(self):
        r = self.rng
        nd = r.choice((1, 2, 2, 2))
        k = r.choice((2, 3))
        s = r.choice((2, 2, 3))
        op = r.choice(("max", "max", "avg", "min", "sum", "l2"))
        dtype = self.fdtype()
        X, Y = self.inp(), self.out()
        lead_n = r.choice((0, 1, 2)) if nd == 2 else r.choice((0, 1))
        rank = nd + lead_n
        lead_d = [self.size(rank, hi=4) for _ in range(lead_n)]
        lead_v = self.idx(lead_n) if lead_n else []
        sp = [self.size(rank, lo=k) for _ in range(nd)]
        ov = self.idx(nd)
        wv = self.idx(nd)
        out_sp = []
        for d in sp:
            if k == s:
                out_sp.append(_bin("/", _name(d), _int(s)))
            else:
                out_sp.append(_bin("+", _bin("/", _bin("-", _name(d), _int(k)), _int(s)), _int(1)))
        idx = [_bin("+", _bin("*", _int(s), _name(o)), _name(w)) for o, w in zip(ov, wv)]
        x = _acc(X, *lead_v, *idx)
        rvars = [(w, 0, k) for w in wv]
        if op in ("max", "min", "sum"):
            e: N.Expr = _reduce(op, rvars, x)
        elif op == "avg":
            e = _bin("/", _reduce("sum", rvars, x), _float(float(k ** nd)))
        else:
            e = _call("sqrt", _reduce("sum", rvars, _call("pow", _call("abs", x), _float(2.0))))
        return f"pool{nd}d_{op}_k{k}s{s}", _kernel([_param(X, dtype, lead_d + sp)],
                                                  [_param(Y, dtype, lead_d + out_sp)], [_stmt(Y, lead_v + ov, e)])

    # ---------------------------------------------------------------- fused chains
    def cat_fused(self):
        r = self.rng
        variant = r.choice(("softmax", "layernorm", "rmsnorm", "mlp", "lse", "rownorm", "chain", "chain", "chain"))
        return variant, getattr(self, "_fused_" + variant)()

    def _rows(self):
        R, C = self.size(2), self.size(2)
        i, j = self.idx(2)
        return R, C, i, j

    def _fused_softmax(self):
        r = self.rng
        dtype = self.fdtype()
        X, Y = self.inp(), self.out()
        R, C, i, j = self._rows()
        m, e, s = self.temp(), self.temp(), self.temp()
        params = [_param(X, dtype, [R, C])]
        x = _acc(X, i, j)
        if r.random() < 0.4:
            t = self.scalar()
            params.append(_param(t, dtype, None))
            x = _bin("/", x, _name(t))
        return _kernel(params, [_param(Y, dtype, [R, C])], [
            _stmt(m, [i], _reduce("max", [j], x)),
            _stmt(e, [i, j], _call("exp", _bin("-", x, _acc(m, i)))),
            _stmt(s, [i], _reduce("sum", [j], _acc(e, i, j))),
            _stmt(Y, [i, j], _bin("/", _acc(e, i, j), _acc(s, i)))])

    def _fused_layernorm(self):
        r = self.rng
        dtype = self.fdtype()
        X, Y = self.inp(), self.out()
        R, C, i, j = self._rows()
        mu, d, var = self.temp(), self.temp(), self.temp()
        params = [_param(X, dtype, [R, C])]
        eps = _float(r.choice((1e-5, 1e-3, 0.01)))
        y: N.Expr = _bin("*", _acc(d, i, j), _call("rsqrt", _bin("+", _acc(var, i), eps)))
        if r.random() < 0.6:
            G = self.inp()
            params.append(_param(G, dtype, [C]))
            y = _bin("*", y, _acc(G, j))
        if r.random() < 0.5:
            Bv = self.inp()
            params.append(_param(Bv, dtype, [C]))
            y = _bin("+", y, _acc(Bv, j))
        return _kernel(params, [_param(Y, dtype, [R, C])], [
            _stmt(mu, [i], _bin("/", _reduce("sum", [j], _acc(X, i, j)), _name(C))),
            _stmt(d, [i, j], _bin("-", _acc(X, i, j), _acc(mu, i))),
            _stmt(var, [i], _bin("/", _reduce("sum", [j], _call("pow", _acc(d, i, j), _float(2.0))), _name(C))),
            _stmt(Y, [i, j], y)])

    def _fused_rmsnorm(self):
        dtype = self.fdtype()
        X, Y, G = self.inp(), self.out(), self.inp()
        R, C, i, j = self._rows()
        ms = self.temp()
        return _kernel([_param(X, dtype, [R, C]), _param(G, dtype, [C])], [_param(Y, dtype, [R, C])], [
            _stmt(ms, [i], _bin("/", _reduce("sum", [j], _call("pow", _acc(X, i, j), _float(2.0))), _name(C))),
            _stmt(Y, [i, j], _bin("*", _bin("*", _acc(X, i, j), _call("rsqrt", _bin("+", _acc(ms, i), _float(1e-5)))),
                                  _acc(G, j)))])

    def _fused_mlp(self):
        r = self.rng
        dtype = self.fdtype()
        X, Wm, Bv, Y = self.inp(), self.inp(), self.inp(), self.out()
        Bt, I, O = self.size(2), self.size(2), self.size(2)
        n, o, k = self.idx(3)
        h = self.temp()
        act = r.choice(("relu", "tanh", "sigmoid", "gelu"))
        z = _bin("+", _acc(h, n, o), _acc(Bv, o))
        if act == "gelu":
            y = _bin("*", z, _call("sigmoid", _bin("*", _float(1.702), z)))
        else:
            y = _call(act, z)
        wdims, widx = ([O, I], [o, k]) if r.random() < 0.5 else ([I, O], [k, o])
        return _kernel([_param(X, dtype, [Bt, I]), _param(Wm, dtype, wdims), _param(Bv, dtype, [O])],
                       [_param(Y, dtype, [Bt, O])], [
            _stmt(h, [n, o], _reduce("sum", [k], _bin("*", _acc(X, n, k), _acc(Wm, *widx)))),
            _stmt(Y, [n, o], y)])

    def _fused_lse(self):
        dtype = self.fdtype()
        X, Y = self.inp(), self.out()
        R, C, i, j = self._rows()
        m = self.temp()
        return _kernel([_param(X, dtype, [R, C])], [_param(Y, dtype, [R])], [
            _stmt(m, [i], _reduce("max", [j], _acc(X, i, j))),
            _stmt(Y, [i], _bin("+", _acc(m, i), _call("log", _reduce("sum", [j], _call(
                "exp", _bin("-", _acc(X, i, j), _acc(m, i)))))))])

    def _fused_rownorm(self):
        r = self.rng
        dtype = self.fdtype()
        X, Y = self.inp(), self.out()
        R, C, i, j = self._rows()
        nr = self.temp()
        l1 = r.random() < 0.5
        body = _call("abs", _acc(X, i, j)) if l1 else _call("pow", _acc(X, i, j), _float(2.0))
        red: N.Expr = _reduce("sum", [j], body)
        if not l1:
            red = _call("sqrt", red)
        return _kernel([_param(X, dtype, [R, C])], [_param(Y, dtype, [R, C])], [
            _stmt(nr, [i], red),
            _stmt(Y, [i, j], _bin("/", _acc(X, i, j), _bin("+", _acc(nr, i), _float(1e-3))))])

    def _fused_chain(self):
        """A random chain: maps, row reductions, broadcasts back, and matmuls, through temporaries."""
        r = self.rng
        dtype = self.fdtype()
        R, C = self.size(2), self.size(2)
        X = self.inp()
        params = [_param(X, dtype, [R, C])]
        # values: (name, dims, magnitude bound)
        cur = (X, [R, C], 1.0)
        rowvals: List[Tuple[str, List[str], float]] = []
        body: List[N.Stmt] = []
        steps = r.randint(2, 4)
        need_red = True
        pending: Optional[Tuple[str, List[str], float]] = None  # a row value nothing reads yet
        for s_i in range(steps):
            last = s_i == steps - 1
            name = self.out() if last else self.temp()
            name_t, dims, bound = cur
            choices = ["map"]
            if len(dims) == 2:
                choices += ["reduce", "reduce", "matmul"]
            if len(dims) == 2 and rowvals:
                choices += ["bcast", "bcast"]
            if last and need_red:
                choices = [c for c in choices if c != "map"] or ["map"]
            kind = r.choice(choices)
            if pending is not None:
                kind = "bcast"
            if kind == "map":
                vs = self.idx(len(dims))
                x: N.Expr = _acc(name_t, *vs)
                if bound > 3:
                    x, bound = _call("tanh", x), 1.0
                f = r.choice(("exp", "tanh", "sigmoid", "affine", "square", "relu", "sin"))
                if f == "exp":
                    x, bound = _call("exp", x), 2.718281828 ** bound
                elif f == "affine":
                    a = round(r.uniform(0.25, 2.0), 2)
                    x, bound = _bin("+", _bin("*", _float(a), x), _float(round(r.uniform(-1, 1), 2))), a * bound + 1
                elif f == "square":
                    x, bound = _bin("*", x, x), bound * bound
                elif f == "relu":
                    x = _call("relu", x)
                else:
                    x, bound = _call(f, x), 1.0
                if r.random() < 0.3:
                    P = self.inp()
                    params.append(_param(P, dtype, dims))
                    x, bound = _bin(r.choice("+*"), x, _acc(P, *vs)), bound + 1
                body.append(_stmt(name, vs, x))
                cur = (name, list(dims), bound)
            elif kind == "reduce":
                i, j = self.idx(2)
                op = r.choice(("sum", "max", "min", "mean"))
                x = _acc(name_t, i, j)
                if op == "mean":
                    e = _bin("/", _reduce("sum", [j], x), _name(dims[1]))
                    nb = bound
                else:
                    e = _reduce(op, [j], x)
                    nb = bound * (self.sizes[dims[1]] if op == "sum" else 1)
                body.append(_stmt(name, [i], e))
                need_red = False
                if last or r.random() < 0.35:
                    cur = (name, [dims[0]], nb)
                else:  # keep going from the 2-D value; the next step reads this row value back
                    pending = (name, [dims[0]], nb)
            elif kind == "bcast":
                rv, _rd, rb = pending if pending is not None else r.choice(rowvals)
                rowvals.append((rv, _rd, rb)) if pending is not None else None
                pending = None
                i, j = self.idx(2)
                op = r.choice(("-", "*", "/"))
                a, b = _acc(name_t, i, j), _acc(rv, i)
                if op == "/":
                    e, nb = _bin("/", a, _bin("+", _call("abs", b), _float(1.0))), bound
                else:
                    e, nb = _bin(op, a, b), (bound + rb if op == "-" else bound * rb)
                body.append(_stmt(name, [i, j], e))
                need_red = False
                cur = (name, list(dims), nb)
            else:  # matmul with a weight input
                E = self.size(2)
                Wm = self.inp()
                params.append(_param(Wm, dtype, [dims[1], E]))
                i, j, e_ = self.idx(3)
                x = _acc(name_t, i, j)
                if bound > 3:
                    x, bound = _call("tanh", x), 1.0
                body.append(_stmt(name, [i, e_], _reduce("sum", [j], _bin("*", x, _acc(Wm, j, e_)))))
                need_red = False
                cur = (name, [dims[0], E], bound * self.sizes[dims[1]])
        last_stmt = body[-1]
        out_param_dims = self._dims_of(last_stmt, params, body)
        k = _kernel(params, [_param(last_stmt.target, dtype, out_param_dims)], body)
        return k

    def _dims_of(self, stmt: N.Stmt, params: List[N.Param], body: List[N.Stmt]) -> List[N.Expr]:
        """The dims of a statement's target, from the first bare use of each of its indices."""
        shapes: Dict[str, Tuple[N.Expr, ...]] = {p.name: p.shape for p in params if p.shape is not None}
        for s in body:
            if s is stmt:
                break
            shapes[s.target] = tuple(self._dims_of(s, params, body))
        out: List[N.Expr] = []
        for v in stmt.indices:
            found = None
            for node in N.walk(stmt.value):
                if isinstance(node, N.Access) and node.tensor in shapes:
                    for ix, d in zip(node.indices, shapes[node.tensor]):
                        if isinstance(ix, N.Name) and ix.name == v:
                            found = d
                            break
                if found is not None:
                    break
            if found is None:
                raise RuntimeError(f"no range for {v}")
            out.append(found)
        return out
