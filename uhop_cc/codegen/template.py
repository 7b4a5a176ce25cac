"""What every template of every target shares: the Template/Match API, device defaults, IR
rewriting and an expression emitter built on the generic lowering's `ExpressionEmitter`.

A template recognises a program structurally on the typed IR (`match`), proposes schedule
parameters (`space`, the first one being the device's default) and renders source under the
generic lowering's ABI (`render`). Expressions inside template kernels are compiled by
`ExprEmitter`, a subclass of the generic `ExpressionEmitter` whose hooks substitute loads (vector loads,
values kept in registers, accumulators) so every construct of the language keeps working; each
target binds it to its renderer.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from ..ir import nodes as N
from ..ir.limits import deep
from ..ir.typed import BoundKernel, CheckedKernel
from ..lower.indexing import index_bits
from .cstyle import CStyleRenderer, GeneratedKernel, ExpressionEmitter

__all__ = ["Match", "Template", "NoMatch", "ExprEmitter", "device_kind", "max_work_group", "local_mem",
           "compute_units", "launch_expr", "tree_map", "rename", "index_names", "is_uniform", "vector_safe",
           "reserved_clash", "lanes", "vtype", "index_var", "index_width", "VECTOR_MATH", "LANE"]


class NoMatch(Exception):
    """Raised inside `match` helpers; `Template.match` turns it into None."""


@dataclass(frozen=True)
class Match:
    template: str
    bound: BoundKernel
    info: Dict[str, object] = field(default_factory=dict, compare=False)
    reason: str = ""

    @property
    def checked(self) -> CheckedKernel:
        return self.bound.checked


class Template:
    name = "template"
    # parameters that name a choice (an algorithm, a switch) rather than a size: the tuner does not
    # move them to neighbouring values
    categorical: Tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # matching and rendering walk expressions recursively, as deep as a flat chain is long:
        # a 2000-term sum reruns them on a big stack (ir/limits.py) instead of failing
        if "render" in cls.__dict__:
            cls.render = deep(cls.__dict__["render"])

    @deep
    def match(self, bound: BoundKernel) -> Optional[Match]:
        try:
            return self._match(bound)
        except NoMatch:
            return None

    def why_not(self, bound: BoundKernel) -> str:
        """Why `match` refuses the program ('' when it matches): for diagnostics and tests."""
        try:
            self._match(bound)
        except NoMatch as e:
            return str(e) or "no match"
        return ""

    def _match(self, bound: BoundKernel) -> Match:
        raise NotImplementedError

    def space(self, match: Match, device_fingerprint: Optional[dict] = None) -> List[dict]:
        raise NotImplementedError

    def render(self, match: Match, params: Optional[dict] = None) -> GeneratedKernel:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<template {self.name}>"


# ------------------------------------------------------------------ index width
def index_width(match: Match, params: Optional[Mapping] = None) -> int:
    """32 or 64: the width of global indices and size arguments for this match's shape
    (lower/indexing.py). `params["index_bits"]` may ask for 64 at any shape (tests, portable
    sources); asking for 32 where the shape needs 64 is an error, never a wrapping kernel."""
    need = index_bits(match.bound)
    asked = int((params or {}).get("index_bits", 0) or 0)
    if asked not in (0, 32, 64):
        raise ValueError(f"index_bits must be 32 or 64, not {asked}")
    if asked == 32 and need == 64:
        raise ValueError("this shape has more than 2^31 - 1 elements: its indices need index_bits=64")
    return asked or need


# ------------------------------------------------------------------ device facts
def device_kind(fp: Optional[Mapping]) -> str:
    """'CPU' or 'GPU' (GPU when unknown: the defaults then suit discrete accelerators)."""
    if not fp:
        return "GPU"
    t = str(fp.get("device_type") or fp.get("type") or "").upper()
    if "CPU" in t:
        return "CPU"
    return "GPU"


def max_work_group(fp: Optional[Mapping], default: int = 256) -> int:
    if fp and fp.get("max_work_group_size"):
        return int(fp["max_work_group_size"])
    return default


def compute_units(fp: Optional[Mapping], default: int = 80) -> int:
    if fp:
        for k in ("compute_units", "max_compute_units"):
            if fp.get(k):
                return int(fp[k])
    return default


def local_mem(fp: Optional[Mapping], default: int = 32 * 1024) -> int:
    if fp:
        for k in ("local_mem_size", "local_mem_bytes"):
            if fp.get(k):
                return int(fp[k])
    return default


# ------------------------------------------------------------------ IR helpers
def reserved_clash(ck: CheckedKernel) -> bool:
    """True when a user identifier starts with `_u` (templates use that prefix for their own names)."""
    names: Set[str] = set(ck.sizes) | set(ck.scalars) | set(ck.tensors)
    for s in ck.body:
        names.update(s.indices)
        for n in N.walk(s.value):
            if isinstance(n, N.Reduce):
                names.update(v.name for v in n.vars)
    return any(n.startswith("_u") for n in names)


def launch_expr(e: N.Expr) -> str:
    """A size expression in the @launch grammar (integers, size symbols, + - * /)."""
    if isinstance(e, N.Const) and not e.is_float:
        return str(int(e.value))
    if isinstance(e, N.Name):
        return e.name
    if isinstance(e, N.Call) and e.fn == "i32" and len(e.args) == 1:
        return launch_expr(e.args[0])
    if isinstance(e, N.Unary) and e.op == "-":
        return f"(0 - {launch_expr(e.operand)})"
    if isinstance(e, N.Binary) and e.op in "+-*/":
        return f"({launch_expr(e.lhs)} {e.op} {launch_expr(e.rhs)})"
    raise NoMatch(f"dimension {e!r} cannot be written in a @launch expression")


def tree_map(e: N.Expr, fn: Callable[[N.Expr], Optional[N.Expr]]) -> N.Expr:
    """Rebuild `e` top-down: fn(node) returns a replacement, or None to rebuild the node from its children."""
    rep = fn(e)
    if rep is not None:
        return rep
    if isinstance(e, N.Access):
        return dataclasses.replace(e, indices=tuple(tree_map(i, fn) for i in e.indices))
    if isinstance(e, N.Unary):
        return dataclasses.replace(e, operand=tree_map(e.operand, fn))
    if isinstance(e, N.Binary):
        return dataclasses.replace(e, lhs=tree_map(e.lhs, fn), rhs=tree_map(e.rhs, fn))
    if isinstance(e, N.Call):
        return dataclasses.replace(e, args=tuple(tree_map(a, fn) for a in e.args))
    if isinstance(e, N.Reduce):
        return dataclasses.replace(e, body=tree_map(e.body, fn))
    return e


def index_names(e: N.Expr) -> Set[str]:
    """Free index-variable names of e (reduction variables bound inside e excluded)."""
    out: Set[str] = set()

    def go(x: N.Expr, bound: frozenset):
        if isinstance(x, N.Name):
            if x.kind == "index" and x.name not in bound:
                out.add(x.name)
            return
        if isinstance(x, N.Reduce):
            for v in x.vars:
                for b in (v.lo, v.hi):
                    if b is not None:
                        go(b, bound)
            go(x.body, bound | {v.name for v in x.vars})
            return
        for c in N.children(x):
            go(c, bound)

    go(e, frozenset())
    return out


def rename(e: N.Expr, mapping: Mapping[str, N.Expr]) -> N.Expr:
    """Substitute free index variables by expressions (capture-avoiding: raises NoMatch on capture)."""
    if not mapping:
        return e
    free_in_rep: Set[str] = set()
    for r in mapping.values():
        free_in_rep |= index_names(r)

    def go(x: N.Expr, shadow: frozenset) -> N.Expr:
        if isinstance(x, N.Name):
            if x.kind == "index" and x.name in mapping and x.name not in shadow:
                return mapping[x.name]
            return x
        if isinstance(x, N.Reduce):
            names = {v.name for v in x.vars}
            if names & free_in_rep:
                raise NoMatch("substitution would capture a reduction variable")
            vars_ = tuple(dataclasses.replace(v, lo=go(v.lo, shadow) if v.lo is not None else None,
                                              hi=go(v.hi, shadow) if v.hi is not None else None) for v in x.vars)
            return dataclasses.replace(x, vars=vars_, body=go(x.body, shadow | names))
        if isinstance(x, N.Access):
            return dataclasses.replace(x, indices=tuple(go(i, shadow) for i in x.indices))
        if isinstance(x, N.Unary):
            return dataclasses.replace(x, operand=go(x.operand, shadow))
        if isinstance(x, N.Binary):
            return dataclasses.replace(x, lhs=go(x.lhs, shadow), rhs=go(x.rhs, shadow))
        if isinstance(x, N.Call):
            return dataclasses.replace(x, args=tuple(go(a, shadow) for a in x.args))
        return x

    return go(e, frozenset())


def index_var(name: str) -> N.Name:
    return N.Name(name, dtype="i32", kind="index")


def is_uniform(e: N.Expr, varying: Iterable[str]) -> bool:
    """e does not depend on the varying index variables (directly or through accesses)."""
    varying = set(varying)
    return not (index_names(e) & varying)


VECTOR_MATH = ("exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "floor", "ceil", "abs", "relu",
               "min", "max", "pow")


def vector_safe(e: N.Expr, varying: Iterable[str], vector_access: Callable[[N.Access], bool]) -> bool:
    """Whether e can be evaluated on floatN lanes by `TemplateEmitter` in vector mode.

    Uniform sub-expressions stay scalar (and broadcast); varying ones must be f32
    arithmetic, math calls and accesses that `vector_access` accepts (vector loads).
    """
    varying = set(varying)

    def go(x: N.Expr) -> bool:
        if not (index_names(x) & varying):
            return True  # stays scalar and broadcasts
        if x.dtype != "f32":
            return False
        if isinstance(x, N.Access):
            return vector_access(x)
        if isinstance(x, N.Unary):
            return x.op == "-" and go(x.operand)
        if isinstance(x, N.Binary):
            return x.op in ("+", "-", "*", "/") and go(x.lhs) and go(x.rhs)
        if isinstance(x, N.Call):
            return x.fn in VECTOR_MATH and all(go(a) for a in x.args)
        return False  # index names used as values, reductions

    return go(e)


# ------------------------------------------------------------------ emitter
def vtype(ctype: str, n: int) -> str:
    return ctype if n == 1 else f"{ctype}{n}"


LANE = "0123456789abcdef"


def lanes(value: str, n: int) -> List[str]:
    if n == 1:
        return [value]
    return [f"{value}.s{LANE[i]}" for i in range(n)]


class ExprEmitter(ExpressionEmitter):
    """The generic expression compiler with substitution hooks.

    access(e) -> C text or None: replaces a tensor load (a register, a vector load...);
    reduce(e) -> C text or None: replaces a whole reduction (an accumulator);
    vector: the lane count when the expression is evaluated on vectors (see `vector_safe`),
    so that uniform arguments of two-argument math functions are widened.
    """

    def __init__(self, renderer: CStyleRenderer, ck: CheckedKernel,
                 access: Optional[Callable[[N.Access], Optional[str]]] = None,
                 reduce: Optional[Callable[[N.Reduce], Optional[str]]] = None, vector: int = 1,
                 varying: Iterable[str] = ()):
        super().__init__(renderer, ck)
        self.access_hook = access
        self.reduce_hook = reduce
        self.vector = vector
        self.varying = set(varying)

    def value(self, e: N.Expr, out: List[str], ind: str) -> str:
        if isinstance(e, N.Access) and self.access_hook is not None:
            v = self.access_hook(e)
            if v is not None:
                return v
        if isinstance(e, N.Reduce) and self.reduce_hook is not None:
            v = self.reduce_hook(e)
            if v is not None:
                return v
        return super().value(e, out, ind)

    def partial_ctype(self, e: N.Expr) -> str:
        if self.vector > 1 and not is_uniform(e, self.varying):
            return vtype("float", self.vector)
        return super().partial_ctype(e)

    def call(self, e: N.Call, out: List[str], ind: str) -> str:
        if self.vector > 1 and e.fn in ("min", "max", "pow") and len(e.args) == 2:
            uni = [is_uniform(a, self.varying) for a in e.args]
            if uni[0] != uni[1]:
                args = []
                for a, u in zip(e.args, uni):
                    v = self.value(a, out, ind)
                    args.append(f"(({vtype('float', self.vector)})({v}))" if u else v)
                return self.r.math(e.fn, e.dtype, args)
        return super().call(e, out, ind)
