"""Syntax tree -> typed IR (`CheckedKernel`): names, types, ranges, assignment rules.

Every rule raises a located UirError with a specific message. Type rules:
tensors and scalars have their declared dtype; literals, size symbols and
index variables are *weak*: they take the dtype of the other operand (an
integer literal becomes a float next to a float, never the reverse). Two
strong operands must have the same dtype; use a cast (`f32(x)`) otherwise.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional, Tuple

from . import nodes as N
from . import printer, symbolic
from .errors import SourceText, UirError
from .reserved import RESERVED
from .typed import DTYPES, FLOAT_DTYPES, CheckedKernel, TensorInfo

UNARY_FLOAT = ("exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "floor", "ceil")
UNARY_NUM = ("abs", "relu")
BINARY_NUM = ("min", "max")
BINARY_FLOAT = ("pow",)
CASTS = DTYPES
FUNCTIONS = UNARY_FLOAT + UNARY_NUM + BINARY_NUM + BINARY_FLOAT + CASTS + ("select",)
REDUCTIONS = ("sum", "max", "min", "prod")
ARITH = ("+", "-", "*", "/", "%")
COMPARE = ("==", "!=", "<", "<=", ">", ">=")
LOGIC = ("and", "or")


def _dtypes_text() -> str:
    return ", ".join(DTYPES[:-1]) + " or " + DTYPES[-1]


class _Typed:
    """A typed sub-expression during checking: node, dtype, and weakness."""
    __slots__ = ("node", "dtype", "weak")

    def __init__(self, node: N.Expr, dtype: str, weak: bool = False):
        self.node, self.dtype, self.weak = node, dtype, weak


class _Scope:
    """Index variables visible at a point: LHS indices and enclosing reduction variables."""

    def __init__(self, lhs: Tuple[str, ...]):
        self.index = set(lhs)

    def with_vars(self, names) -> "_Scope":
        s = _Scope(())
        s.index = self.index | set(names)
        return s


class KernelChecker:
    def __init__(self, kernel: N.Kernel, src: SourceText):
        self.k = kernel
        self.src = src
        self.sizes: List[str] = []
        self.scalars: Dict[str, str] = {}
        self.tensors: Dict[str, TensorInfo] = {}
        self.assigned: Dict[str, N.Loc] = {}
        self.future_targets: Dict[str, N.Loc] = {}

    def err(self, msg: str, loc: N.Loc, note: Optional[str] = None) -> UirError:
        return self.src.error(msg, loc, note)

    # ------------------------------------------------------------ signature
    def signature(self):
        seen: Dict[str, N.Loc] = {}
        for role, params in (("input", self.k.inputs), ("output", self.k.outputs)):
            for p in params:
                if p.name in seen:
                    raise self.err(f"duplicate parameter `{p.name}`", p.loc,
                                   f"first declared at line {seen[p.name].line}")
                seen[p.name] = p.loc
                if p.dtype not in DTYPES:
                    raise self.err(f"unknown dtype `{p.dtype}` for `{p.name}`; expected {_dtypes_text()}", p.loc)
                if p.shape is None:
                    if role == "output":
                        raise self.err(f"output `{p.name}` must be a tensor", p.loc,
                                       f"write `{p.name}: {p.dtype}[]` for a 0-d output")
                    self.scalars[p.name] = p.dtype
                    continue
                for d in p.shape:
                    self._dim(d, p)
                self.tensors[p.name] = TensorInfo(p.name, p.dtype, p.shape, role, p.loc)
        for s in self.sizes:
            if s in seen:
                raise self.err(f"`{s}` is both a parameter and a size symbol", seen[s])

    def _dim(self, d: N.Expr, p: N.Param):
        for node in N.walk(d):
            if isinstance(node, N.Name):
                if node.name not in self.sizes:
                    self.sizes.append(node.name)
            elif isinstance(node, N.Const):
                if node.is_float:
                    raise self.err(f"dimension of `{p.name}` must be an integer, not {printer.expr(node)}", node.loc)
            elif isinstance(node, N.Binary):
                if node.op not in ("+", "-", "*", "/"):
                    raise self.err(f"dimension of `{p.name}` uses `{node.op}`; dims take + - * and / by an integer",
                                   node.loc)
                if node.op == "/" and not isinstance(node.rhs, N.Const):
                    raise self.err(f"dimension of `{p.name}` divides by `{printer.expr(node.rhs)}`; "
                                   "a dim divides only by an integer literal", node.rhs.loc)
                if node.op == "/" and node.rhs.value == 0:
                    raise self.err(f"dimension of `{p.name}` divides by zero", node.rhs.loc)
            elif not (isinstance(node, N.Unary) and node.op == "-"):
                raise self.err(f"dimension of `{p.name}` must be an expression of size symbols and integers",
                               node.loc)

    # ------------------------------------------------------------ body
    def body(self) -> Tuple[N.Stmt, ...]:
        for s in self.k.body:
            self.future_targets.setdefault(s.target, s.loc)
        out = tuple(self.statement(s) for s in self.k.body)
        for p in self.k.outputs:
            if p.name not in self.assigned:
                raise self.err(f"output `{p.name}` is never assigned", p.loc)
        return out

    def statement(self, s: N.Stmt) -> N.Stmt:
        t = s.target
        if t in self.scalars:
            raise self.err(f"write to scalar parameter `{t}`: parameters are read-only", s.loc)
        if t in self.sizes:
            raise self.err(f"write to size symbol `{t}`", s.loc)
        info = self.tensors.get(t)
        if info is not None and info.role == "input":
            raise self.err(f"write to input `{t}`: inputs are read-only", s.loc,
                           "assign to an output or to a new temporary name")
        if t in self.assigned:
            what = "output" if info is not None and info.role == "output" else "temporary"
            raise self.err(f"{what} `{t}` is assigned twice", s.loc,
                           f"first assigned at line {self.assigned[t].line}; each tensor is assigned once")
        seen = {}
        for v, vloc in zip(s.indices, s.index_locs or (s.loc,) * len(s.indices)):
            if v in seen:
                raise self.err(f"index `{v}` appears twice on the left-hand side of `{t}`", vloc)
            seen[v] = vloc
            self._no_shadow(v, vloc)
        if info is not None and len(s.indices) != info.rank:
            raise self.err(f"`{t}` has {info.rank} dimension(s) but is assigned with {len(s.indices)} index(es)",
                           s.loc)

        # ranges of the LHS indices: from the target's declared shape and from bare uses
        # An output's indices range over its declared shape (uses on the right are then
        # bounds-checked, so stencils and crops read larger inputs); a temporary's
        # indices take the range of their bare uses, which must agree.
        ranges: Dict[str, Tuple[N.Expr, str, N.Loc]] = {}
        self._infer(s.value, set(s.indices) if info is None else set(), ranges)
        for v, vloc in seen.items():
            if info is None and v not in ranges:
                raise self.err(f"cannot infer the range of index `{v}`: it is never used bare in a tensor access",
                               vloc, f"use `{v}` as a plain index somewhere on the right-hand side")

        typed = self.expr(s.value, _Scope(s.indices))
        if typed.dtype == "bool":
            raise self.err(f"`{t}` would hold a boolean; store select(cond, 1.0, 0.0) or i32(cond)", s.value.loc)
        if info is None:
            dtype = typed.dtype
            shape = tuple(ranges[v][0] for v in s.indices)
            self.tensors[t] = info = TensorInfo(t, dtype, shape, "temp", s.loc)
        value = self.coerce(typed, info.dtype, s.value.loc, f"assignment to `{t}`")
        self.assigned[t] = s.loc
        return replace(s, value=value)

    def _no_shadow(self, v: str, loc: N.Loc):
        if v in self.sizes:
            raise self.err(f"index variable `{v}` shadows the size symbol `{v}`", loc)
        if v in self.scalars:
            raise self.err(f"index variable `{v}` shadows the scalar parameter `{v}`", loc)
        if v in self.tensors or v in self.future_targets:
            raise self.err(f"index variable `{v}` has the name of tensor `{v}`", loc)

    def _infer(self, e: N.Expr, free: set, ranges: Dict):
        """Record the dim of every bare use of a variable in `free` as its range; uses must agree."""
        if isinstance(e, N.Access):
            info = self.tensors.get(e.tensor)
            if info is not None and len(e.indices) == info.rank:
                for d, (idx, dim) in enumerate(zip(e.indices, info.shape)):
                    if isinstance(idx, N.Name) and idx.name in free:
                        where = f"{e.tensor} dim {d + 1}"
                        if idx.name in ranges:
                            old, old_where, _ = ranges[idx.name]
                            if not symbolic.same(old, dim):
                                raise self.err(
                                    f"range conflict for `{idx.name}` between {printer.expr(old)} ({old_where}) "
                                    f"and {printer.expr(dim)} ({where})", idx.loc)
                        else:
                            ranges[idx.name] = (dim, where, idx.loc)
        if isinstance(e, N.Reduce):
            inner = free - {v.name for v in e.vars}
            self._infer(e.body, inner, ranges)
            return
        for c in N.children(e):
            self._infer(c, free, ranges)

    # ------------------------------------------------------------ expressions
    def expr(self, e: N.Expr, scope: _Scope) -> _Typed:
        if isinstance(e, N.Const):
            return _Typed(e, "f32" if e.is_float else "i32", weak=True)
        if isinstance(e, N.Name):
            return self.name(e, scope)
        if isinstance(e, N.Access):
            return self.access(e, scope)
        if isinstance(e, N.Unary):
            x = self.expr(e.operand, scope)
            if e.op == "not":
                self._want_bool(x, e.operand.loc, "`not`")
                return _Typed(replace(e, operand=x.node, dtype="bool"), "bool")
            if x.dtype == "bool":
                raise self.err("unary `-` needs a number, not a boolean", e.loc)
            return _Typed(replace(e, operand=x.node, dtype=x.dtype), x.dtype, x.weak)
        if isinstance(e, N.Binary):
            return self.binary(e, scope)
        if isinstance(e, N.Call):
            return self.call(e, scope)
        if isinstance(e, N.Reduce):
            return self.reduce(e, scope)
        raise TypeError(e)

    def name(self, e: N.Name, scope: _Scope) -> _Typed:
        if e.name in scope.index:
            return _Typed(replace(e, kind="index", dtype="i32"), "i32", weak=True)
        if e.name in self.scalars:
            dt = self.scalars[e.name]
            return _Typed(replace(e, kind="scalar", dtype=dt), dt)
        if e.name in self.sizes:
            return _Typed(replace(e, kind="size", dtype="i32"), "i32", weak=True)
        info = self.tensors.get(e.name)
        if info is not None:
            if info.rank == 0:
                return self.access(N.Access(e.name, (), e.loc), scope)
            raise self.err(f"tensor `{e.name}` needs {info.rank} index(es): {e.name}[...]", e.loc)
        if e.name in self.future_targets:
            raise self.err(f"`{e.name}` is used before it is assigned (line {self.future_targets[e.name].line})",
                           e.loc)
        if e.name in FUNCTIONS or e.name in REDUCTIONS:
            raise self.err(f"`{e.name}` is a function; call it with arguments", e.loc)
        raise self.err(f"index `{e.name}` is unbound", e.loc,
                       "a name must be a left-hand-side index, a reduction variable, "
                       "a scalar parameter or a size symbol")

    def access(self, e: N.Access, scope: _Scope) -> _Typed:
        info = self.tensors.get(e.tensor)
        if info is None:
            if e.tensor in self.scalars:
                raise self.err(f"`{e.tensor}` is a scalar, not a tensor; use it without [ ]", e.loc)
            if e.tensor in self.future_targets:
                raise self.err(f"`{e.tensor}` is used before it is assigned "
                               f"(line {self.future_targets[e.tensor].line})", e.loc)
            raise self.err(f"undefined tensor `{e.tensor}`", e.loc)
        if info.role == "output" and e.tensor not in self.assigned:
            where = self.future_targets.get(e.tensor)
            later = f" (line {where.line})" if where else ""
            raise self.err(f"output `{e.tensor}` is read before it is assigned{later}", e.loc)
        if len(e.indices) != info.rank:
            raise self.err(f"`{e.tensor}` has {info.rank} dimension(s) but is indexed with {len(e.indices)}",
                           e.loc)
        idx = tuple(self.index(i, scope, e.tensor) for i in e.indices)
        return _Typed(replace(e, indices=idx, dtype=info.dtype), info.dtype)

    def index(self, e: N.Expr, scope: _Scope, tensor: str) -> N.Expr:
        """An access index: an affine integer expression of index variables and size symbols."""
        def bad(node, why):
            return self.err(f"index of `{tensor}` {why}", node.loc,
                            "indices are affine in index variables and size symbols: i, y + r, 2 * x + q, N - 1 - i")
        for node in N.walk(e):
            if isinstance(node, N.Access):
                raise bad(node, f"reads tensor `{node.tensor}`; indirect indexing is not supported")
            if isinstance(node, N.Reduce):
                raise bad(node, "contains a reduction")
            if isinstance(node, N.Call):
                raise bad(node, f"calls `{node.fn}`")
            if isinstance(node, N.Const) and node.is_float:
                raise bad(node, f"uses the float {printer.expr(node)}")
            if isinstance(node, N.Unary) and node.op != "-":
                raise bad(node, f"uses `{node.op}`")
            if isinstance(node, N.Binary):
                if node.op not in ARITH:
                    raise bad(node, f"uses `{node.op}`")
                if node.op == "*" and not (self._static(node.lhs) or self._static(node.rhs)):
                    raise bad(node, f"multiplies two index expressions ({printer.expr(node)}); it is not affine")
                if node.op in ("/", "%") and not (isinstance(node.rhs, N.Const) and node.rhs.value > 0):
                    raise bad(node, f"uses `{node.op}` by {printer.expr(node.rhs)}; divide only by a positive literal")
            if isinstance(node, N.Name) and node.name in self.scalars:
                raise bad(node, f"uses the scalar parameter `{node.name}`")
        t = self.expr(e, scope)
        return self.coerce(t, "i32", e.loc, f"index of `{tensor}`")

    def _static(self, e: N.Expr) -> bool:
        """True for expressions of literals and size symbols only."""
        return all(not isinstance(n, N.Name) or n.name in self.sizes for n in N.walk(e))

    def binary(self, e: N.Binary, scope: _Scope) -> _Typed:
        a, b = self.expr(e.lhs, scope), self.expr(e.rhs, scope)
        if e.op in LOGIC:
            self._want_bool(a, e.lhs.loc, f"`{e.op}`")
            self._want_bool(b, e.rhs.loc, f"`{e.op}`")
            return _Typed(replace(e, lhs=a.node, rhs=b.node, dtype="bool"), "bool")
        for x, sub in ((a, e.lhs), (b, e.rhs)):
            if x.dtype == "bool":
                raise self.err(f"`{e.op}` needs numbers, but this is a boolean", sub.loc,
                               "combine conditions with and / or / not")
        dtype, weak = self.unify(a, b, e.loc, f"`{e.op}`")
        lhs = self.coerce(a, dtype, e.lhs.loc, f"`{e.op}`")
        rhs = self.coerce(b, dtype, e.rhs.loc, f"`{e.op}`")
        if e.op in COMPARE:
            return _Typed(replace(e, lhs=lhs, rhs=rhs, dtype="bool"), "bool")
        return _Typed(replace(e, lhs=lhs, rhs=rhs, dtype=dtype), dtype, weak)

    def call(self, e: N.Call, scope: _Scope) -> _Typed:
        fn = e.fn
        if fn in REDUCTIONS and fn not in BINARY_NUM:
            raise self.err(f"`{fn}(...)` is a reduction and needs a body after its variables", e.loc,
                           f"write {fn}(k) X[k]; a reduction body cannot start with '-': {fn}(k) (-X[k])")
        if fn not in FUNCTIONS:
            raise self.err(f"unknown function `{fn}`", e.loc,
                           "functions: " + ", ".join(sorted(set(FUNCTIONS) - set(CASTS))) +
                           "; casts: " + ", ".join(CASTS))
        arity = 3 if fn == "select" else 2 if fn in BINARY_NUM + BINARY_FLOAT else 1
        if len(e.args) != arity:
            hint = None
            if fn in BINARY_NUM and len(e.args) == 1:
                hint = f"for a reduction write {fn}(k) X[k]; its body cannot start with '-'"
            raise self.err(f"`{fn}` takes {arity} argument(s), got {len(e.args)}", e.loc, hint)
        args = [self.expr(a, scope) for a in e.args]
        if fn == "select":
            self._want_bool(args[0], e.args[0].loc, "the condition of `select`")
            dtype, weak = self.unify(args[1], args[2], e.loc, "`select`")
            if dtype == "bool":
                raise self.err("`select` branches must be numbers, not booleans", e.loc)
            nodes = (args[0].node, self.coerce(args[1], dtype, e.args[1].loc, "`select`"),
                     self.coerce(args[2], dtype, e.args[2].loc, "`select`"))
            return _Typed(replace(e, args=nodes, dtype=dtype), dtype, weak)
        if fn in CASTS:
            return _Typed(replace(e, args=(args[0].node,), dtype=fn), fn)
        for x, a in zip(args, e.args):
            if x.dtype == "bool":
                raise self.err(f"`{fn}` needs a number, not a boolean", a.loc)
        if fn in UNARY_NUM:
            return _Typed(replace(e, args=(args[0].node,), dtype=args[0].dtype), args[0].dtype, args[0].weak)
        if fn in BINARY_NUM:
            dtype, weak = self.unify(args[0], args[1], e.loc, f"`{fn}`")
        elif fn in BINARY_FLOAT:
            dtype, weak = self.unify(args[0], args[1], e.loc, f"`{fn}`")
        else:
            dtype, weak = args[0].dtype, args[0].weak
        if fn in UNARY_FLOAT + BINARY_FLOAT and dtype not in FLOAT_DTYPES:
            if not weak:
                raise self.err(f"`{fn}` needs a float argument, got {dtype}", e.loc,
                               f"cast it: {fn}(f32(...))")
            dtype = "f32"
        nodes = tuple(self.coerce(x, dtype, a.loc, f"`{fn}`") for x, a in zip(args, e.args))
        return _Typed(replace(e, args=nodes, dtype=dtype), dtype, weak)

    def reduce(self, e: N.Reduce, scope: _Scope) -> _Typed:
        names = [v.name for v in e.vars]
        for i, v in enumerate(e.vars):
            if v.name in names[:i]:
                raise self.err(f"reduction variable `{v.name}` is listed twice", v.loc)
            if v.name in scope.index:
                raise self.err(f"reduction variable `{v.name}` shadows an index variable in scope", v.loc)
            self._no_shadow(v.name, v.loc)
        inferred: Dict[str, Tuple[N.Expr, str, N.Loc]] = {}
        self._infer(e.body, {v.name for v in e.vars if v.lo is None}, inferred)
        rvars = []
        for v in e.vars:
            if v.lo is None:
                if v.name not in inferred:
                    raise self.err(f"cannot infer the range of reduction variable `{v.name}`", v.loc,
                                   f"use it as a plain index in the body, or give it a range: {v.name} in 0..N")
                rvars.append(replace(v, lo=N.Const(0, False, dtype="i32"), hi=inferred[v.name][0]))
            else:
                rvars.append(replace(v, lo=self._bound(v.lo, v.name), hi=self._bound(v.hi, v.name)))
        body = self.expr(e.body, scope.with_vars(names))
        if body.dtype == "bool":
            raise self.err(f"`{e.op}` needs a numeric body, not a boolean", e.body.loc,
                           "count with sum(i) select(cond, 1, 0)")
        return _Typed(replace(e, vars=tuple(rvars), body=body.node, dtype=body.dtype), body.dtype, body.weak)

    def _bound(self, b: N.Expr, var: str) -> N.Expr:
        for node in N.walk(b):
            if isinstance(node, N.Name) and node.name not in self.sizes:
                raise self.err(f"the range of `{var}` uses `{node.name}`; range bounds use size symbols and integers",
                               node.loc)
            if not isinstance(node, (N.Name, N.Const, N.Binary, N.Unary)) or \
                    (isinstance(node, N.Const) and node.is_float) or \
                    (isinstance(node, N.Binary) and node.op not in ARITH):
                raise self.err(f"the range of `{var}` must be an integer expression of size symbols", node.loc)
        return self.coerce(self.expr(b, _Scope(())), "i32", b.loc, f"range of `{var}`")

    # ------------------------------------------------------------ types
    def _want_bool(self, x: _Typed, loc: N.Loc, what: str):
        if x.dtype != "bool":
            raise self.err(f"{what} needs a boolean, got {x.dtype}", loc, "compare with == != < <= > >=")

    def unify(self, a: _Typed, b: _Typed, loc: N.Loc, what: str) -> Tuple[str, bool]:
        if a.dtype == b.dtype:
            return a.dtype, a.weak and b.weak
        if a.weak and b.weak:
            return ("f32" if "f32" in (a.dtype, b.dtype) else a.dtype), True
        strong, weak = (a, b) if not a.weak else (b, a)
        if weak.weak and not (weak.dtype in FLOAT_DTYPES and strong.dtype not in FLOAT_DTYPES):
            return strong.dtype, False
        if weak.weak:
            raise self.err(f"{what} mixes a float with {strong.dtype}", loc,
                           f"cast the {strong.dtype} side: f32(...)")
        raise self.err(f"{what} mixes {a.dtype} and {b.dtype}", loc,
                       f"cast one side, e.g. {a.dtype}(...) or {b.dtype}(...)")

    def coerce(self, x: _Typed, dtype: str, loc: N.Loc, what: str) -> N.Expr:
        if x.dtype == dtype:
            return x.node if x.node.dtype == dtype else replace(x.node, dtype=dtype)
        if not x.weak or x.dtype == "bool" or (x.dtype in FLOAT_DTYPES and dtype not in FLOAT_DTYPES):
            raise self.err(f"{what}: expected {dtype}, got {x.dtype}", loc, f"cast with {dtype}(...)")
        return _retype(x.node, dtype)


def _retype(e: N.Expr, dtype: str) -> N.Expr:
    """Give a weak expression a concrete dtype: literals change type, other leaves get a cast."""
    if isinstance(e, N.Const):
        return replace(e, dtype=dtype)
    if isinstance(e, N.Name):
        return N.Call(dtype, (e,), e.loc, dtype=dtype)
    if isinstance(e, N.Binary) and e.dtype not in ("bool",) and e.op in ARITH:
        if e.op in ("/", "%") and e.dtype == "i32" and dtype in FLOAT_DTYPES:
            # integer division keeps integer semantics, then converts
            return N.Call(dtype, (e,), e.loc, dtype=dtype)
        return replace(e, lhs=_retype(e.lhs, dtype), rhs=_retype(e.rhs, dtype), dtype=dtype)
    if isinstance(e, N.Unary) and e.op == "-":
        return replace(e, operand=_retype(e.operand, dtype), dtype=dtype)
    if isinstance(e, N.Call) and e.fn not in CASTS and e.dtype != "bool":
        args = e.args if e.fn != "select" else e.args[1:]
        new = tuple(_retype(a, dtype) for a in args)
        return replace(e, args=(e.args[:1] + new) if e.fn == "select" else new, dtype=dtype)
    if isinstance(e, N.Reduce):
        return replace(e, body=_retype(e.body, dtype), dtype=dtype)
    return N.Call(dtype, (e,), e.loc, dtype=dtype)


def check_kernel(kernel: N.Kernel, src: SourceText) -> CheckedKernel:
    c = KernelChecker(kernel, src)
    c.signature()
    body = c.body()
    typed = replace(kernel, body=body)
    return CheckedKernel(typed, tuple(c.sizes), dict(c.scalars), dict(c.tensors), src.filename, src.text)


def check_program(program: N.Program, src: SourceText) -> Tuple[CheckedKernel, ...]:
    seen: Dict[str, N.Loc] = {}
    out = []
    for k in program.kernels:
        if k.name in RESERVED or k.name.startswith("_u"):
            raise src.error(f"kernel name `{k.name}` clashes with a C/OpenCL/CUDA keyword or built-in", k.loc,
                            f"rename it, e.g. `{k.name}_kernel`")
        if k.name in seen:
            raise src.error(f"duplicate kernel `{k.name}`", k.loc, f"first defined at line {seen[k.name].line}")
        seen[k.name] = k.loc
        out.append(check_kernel(k, src))
    return tuple(out)
