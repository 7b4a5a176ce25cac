"""The reference interpreter: runs a `BoundKernel` on NumPy arrays.

Semantics (what generated kernels must match):
  * statements run in order; `T[i, j] = e` evaluates e at every point of T's shape,
    then stores it rounded to T's dtype (temporaries too, as a kernel would);
  * arithmetic is float64 for float dtypes and int64 for i32, with C semantics for
    integer `/` (truncates toward zero) and `%` (sign of the dividend); float `%` is fmod;
    an integer division by zero at a point that is evaluated is an `InterpreterError`;
    access indices (affine, `/` and `%` by a positive literal) use floor semantics,
    like the bounds check in `bind`;
  * casts round to their precision (f32(x) == float(np.float32(x))); i32(x) truncates;
  * `select(c, a, b)` evaluates only the chosen branch (`and` / `or` short-circuit
    likewise): reads in the unchosen branch may be out of bounds, and math errors
    there do not matter; a chosen out-of-bounds read is an `InterpreterError`;
  * an empty reduction range gives the identity (0, 1, -inf / +inf, int32 min / max).

Evaluation is vectorised: every sub-expression is a *labelled array*, an ndarray
over only the index variables it depends on. A `sum` whose body is a product is
contracted with `np.einsum`; large intermediates are evaluated in chunks.
"""
from __future__ import annotations

import math
import string
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import nodes as N
from .limits import deep
from .typed import FLOAT_DTYPES, NUMPY_DTYPE, BoundKernel

__all__ = ["run", "run_at", "random_inputs", "largest_intermediate", "InterpreterError", "CHUNK_ELEMENTS"]

# Largest intermediate (in elements) evaluated in one piece; larger ones are chunked.
CHUNK_ELEMENTS = 64 * 1024 * 1024

_I32_MIN, _I32_MAX = int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max)


class InterpreterError(RuntimeError):
    """A runtime error of the kernel itself: an out-of-bounds read, an integer division by zero."""


def _compute_dtype(dtype: str):
    if dtype in FLOAT_DTYPES:
        return np.float64
    if dtype == "i32":
        return np.int64
    if dtype == "bool":
        return np.bool_
    raise ValueError(f"unknown dtype {dtype!r}")


def _round(arr: np.ndarray, dtype: str) -> np.ndarray:
    """Values in the compute dtype, rounded (or wrapped) to `dtype`'s precision."""
    if dtype == "f64":
        return np.asarray(arr, np.float64)
    if dtype in ("f32", "f16"):
        return np.asarray(arr).astype(NUMPY_DTYPE[dtype]).astype(np.float64)
    if dtype == "i32":
        return np.asarray(arr).astype(np.int32).astype(np.int64)
    if dtype == "bool":
        return np.asarray(arr, np.bool_)
    raise ValueError(f"unknown dtype {dtype!r}")


def _cast(arr: np.ndarray, src: str, dst: str) -> np.ndarray:
    """A UIR cast between compute arrays: `dst(x)` for x of dtype `src`."""
    arr = np.asarray(arr)
    if dst == "bool":
        return arr != 0
    if dst in FLOAT_DTYPES:
        return _round(arr.astype(np.float64), dst)
    if dst == "i32":
        if src in FLOAT_DTYPES or arr.dtype.kind == "f":
            t = np.trunc(arr.astype(np.float64))
            t = np.nan_to_num(t, nan=0.0, posinf=_I32_MAX, neginf=_I32_MIN)
            return np.clip(t, _I32_MIN, _I32_MAX).astype(np.int64)
        return _round(arr.astype(np.int64), "i32")
    raise ValueError(f"unknown dtype {dst!r}")


# ---------------------------------------------------------------- labelled arrays
@dataclass(frozen=True)
class _LA:
    """An ndarray whose axes are named by index variables (axis ids)."""
    arr: np.ndarray
    axes: Tuple[str, ...]


def _const(value, dtype: str) -> _LA:
    return _LA(np.asarray(value, _compute_dtype(dtype)), ())


def _union(*las: _LA) -> Tuple[str, ...]:
    axes: List[str] = []
    for la in las:
        for a in la.axes:
            if a not in axes:
                axes.append(a)
    return tuple(axes)


def _expand(la: _LA, axes: Sequence[str]) -> np.ndarray:
    """la's array, transposed into the order of `axes` (a superset) with size-1 dims for the rest."""
    if la.axes == tuple(axes):
        return la.arr
    order = [a for a in axes if a in la.axes]
    arr = la.arr
    if tuple(order) != la.axes:
        arr = arr.transpose([la.axes.index(a) for a in order])
    return arr[tuple(slice(None) if a in la.axes else None for a in axes)]


def _map(fn, *las: _LA) -> _LA:
    axes = _union(*las)
    return _LA(np.asarray(fn(*(_expand(la, axes) for la in las))), axes)


# A mask is None (everything is evaluated) or a boolean _LA (evaluate only where true).
def _mask_and(mask: Optional[_LA], cond: _LA) -> Optional[_LA]:
    m = cond if mask is None else _map(np.logical_and, mask, cond)
    if m.arr.all():
        return None
    return m


def _never(mask: Optional[_LA]) -> bool:
    return mask is not None and not mask.arr.any()


# ---------------------------------------------------------------- context
class _Ctx:
    """What an expression is evaluated against: storage, and the index variables in scope."""

    def __init__(self, bound: BoundKernel, store: Dict[str, np.ndarray], scalars: Dict[str, np.ndarray]):
        self.bound = bound
        self.store = store
        self.scalars = scalars
        self.scope: Dict[str, str] = {}  # variable name -> axis id
        self.ranges: Dict[str, Tuple[int, int]] = {}  # axis id -> half-open range

    def derive(self, scope: Mapping[str, str] = (), ranges: Mapping[str, Tuple[int, int]] = ()) -> "_Ctx":
        c = _Ctx(self.bound, self.store, self.scalars)
        c.scope = {**self.scope, **dict(scope)}
        c.ranges = {**self.ranges, **dict(ranges)}
        return c

    def new_axis(self, name: str) -> str:
        ax = name
        while ax in self.ranges:
            ax += "'"
        return ax

    def extent(self, ax: str) -> int:
        lo, hi = self.ranges[ax]
        return max(hi - lo, 0)

    def size(self, axes) -> int:
        return math.prod(self.extent(a) for a in axes)

    def where(self, positions: Mapping[str, int]) -> str:
        """`i = 3, k = 5` for a point given by axis ids."""
        back = {ax: name for name, ax in self.scope.items()}
        return ", ".join(f"{back.get(ax, ax)} = {v}" for ax, v in positions.items())


def _at(loc: N.Loc) -> str:
    return f" (line {loc.line}:{loc.col})" if loc is not None and loc.line else ""


def _dtype_of(e: N.Expr) -> str:
    if e.dtype is not None:
        return e.dtype
    if isinstance(e, N.Const):
        return "f32" if e.is_float else "i32"
    raise ValueError(f"untyped expression {e!r}: run the checker first")


def _factors(e: N.Expr) -> List[N.Expr]:
    """The factors of a (nested) product; [e] when e is not a product."""
    if isinstance(e, N.Binary) and e.op == "*" and _dtype_of(e) != "bool":
        return _factors(e.lhs) + _factors(e.rhs)
    return [e]


def _name_kind(e: N.Name, ctx: _Ctx) -> str:
    if e.kind is not None:
        return e.kind
    if e.name in ctx.scope:
        return "index"
    if e.name in ctx.scalars:
        return "scalar"
    if e.name in ctx.bound.sizes:
        return "size"
    raise InterpreterError(f"unbound name `{e.name}`{_at(e.loc)}")


# ---------------------------------------------------------------- size estimates
def _estimate(e: N.Expr, ctx: _Ctx) -> Tuple[frozenset, int]:
    """(axes e depends on, the largest array materialised while evaluating e)."""
    if isinstance(e, N.Const):
        return frozenset(), 1
    if isinstance(e, N.Name):
        if _name_kind(e, ctx) == "index":
            ax = ctx.scope[e.name]
            return frozenset([ax]), ctx.extent(ax)
        return frozenset(), 1
    if isinstance(e, N.Reduce):
        ranges = [ctx.bound.range_of(v) for v in e.vars]
        if any(hi <= lo for lo, hi in ranges):
            return frozenset(), 1
        inner, red = _reduce_ctx(e, ctx, ranges)
        axes, m = _estimate_body(e, inner, red)
        return axes - set(red), m
    axes, m = frozenset(), 1
    for c in N.children(e):
        ca, cm = _estimate(c, ctx)
        axes, m = axes | ca, max(m, cm)
    return axes, max(m, ctx.size(axes))


def _estimate_body(e: N.Reduce, inner: _Ctx, red: Sequence[str]) -> Tuple[frozenset, int]:
    factors = _factors(e.body) if e.op == "sum" else [e.body]
    if len(factors) == 1:
        return _estimate(e.body, inner)
    axes, m = frozenset(), 1
    for f in factors:
        fa, fm = _estimate(f, inner)
        axes, m = axes | fa, max(m, fm)
    return axes, max(m, inner.size(axes - set(red)))


def _chunk_plan(ctx: _Ctx, candidates: Sequence[str], estimate) -> Optional[Tuple[str, int]]:
    """(axis, chunk length) that brings `estimate(ctx)` under CHUNK_ELEMENTS, or None."""
    full = estimate(ctx)
    if full <= CHUNK_ELEMENTS:
        return None
    best = None
    for ax in candidates:
        n = ctx.extent(ax)
        if n <= 1:
            continue
        lo = ctx.ranges[ax][0]
        one = estimate(ctx.derive(ranges={ax: (lo, lo + 1)}))
        gain = full / max(one, 1)
        if gain > 1.5 and (best is None or gain > best[0]):
            best = (gain, ax, one)
    if best is None:
        return None
    _, ax, one = best
    step = max(1, CHUNK_ELEMENTS // max(one, 1))
    return (ax, step) if step < ctx.extent(ax) else None


def _chunks(ctx: _Ctx, ax: str, step: int):
    lo, hi = ctx.ranges[ax]
    for a in range(lo, hi, step):
        yield ctx.derive(ranges={ax: (a, min(a + step, hi))})


# ---------------------------------------------------------------- evaluation
def _eval(e: N.Expr, ctx: _Ctx, mask: Optional[_LA], index: bool = False) -> _LA:
    """Evaluate e where `mask` holds (elsewhere the values are unspecified but harmless).

    `index`: e is an access index (floor semantics for `/` and `%`)."""
    if isinstance(e, N.Const):
        dtype = _dtype_of(e)
        return _LA(_round(np.asarray(e.value, _compute_dtype(dtype)), dtype), ())
    if isinstance(e, N.Name):
        kind = _name_kind(e, ctx)
        if kind == "index":
            ax = ctx.scope[e.name]
            lo, hi = ctx.ranges[ax]
            return _LA(np.arange(lo, hi, dtype=np.int64), (ax,))
        if kind == "scalar":
            return _LA(ctx.scalars[e.name], ())
        if kind == "size":
            return _LA(np.asarray(ctx.bound.sizes[e.name], np.int64), ())
        raise InterpreterError(f"unknown name kind {kind!r} for `{e.name}`")
    if isinstance(e, N.Access):
        return _access(e, ctx, mask)
    if isinstance(e, N.Unary):
        x = _eval(e.operand, ctx, mask, index)
        if e.op == "-":
            return _LA(np.negative(x.arr), x.axes)
        if e.op == "not":
            return _LA(np.logical_not(x.arr), x.axes)
        raise InterpreterError(f"unknown unary operator {e.op!r}")
    if isinstance(e, N.Binary):
        return _binary(e, ctx, mask, index)
    if isinstance(e, N.Call):
        return _call(e, ctx, mask)
    if isinstance(e, N.Reduce):
        return _reduce(e, ctx, mask)
    raise TypeError(f"not an expression: {e!r}")


def _access(e: N.Access, ctx: _Ctx, mask: Optional[_LA]) -> _LA:
    if e.tensor not in ctx.store:
        raise InterpreterError(f"tensor `{e.tensor}` is read before it is written{_at(e.loc)}")
    arr = ctx.store[e.tensor]
    if len(e.indices) != arr.ndim:
        raise InterpreterError(f"`{e.tensor}` has {arr.ndim} dimension(s) but is indexed with {len(e.indices)}")
    idx = [_eval(i, ctx, mask, index=True) for i in e.indices]

    # Fast path: every index is a constant or an in-bounds arithmetic progression of its own axis.
    slices, axes = [], []
    for ix, n in zip(idx, arr.shape):
        a = ix.arr
        if a.ndim == 0:
            v = int(a)
            if not 0 <= v < n:
                break
            slices.append(v)
            continue
        if a.ndim != 1 or ix.axes[0] in axes:
            break
        length = a.shape[0]
        if length == 0:
            slices.append(slice(0, 0))
            axes.append(ix.axes[0])
            continue
        first, last = int(a[0]), int(a[-1])
        step = int(a[1] - a[0]) if length > 1 else 1
        if step == 0 or min(first, last) < 0 or max(first, last) >= n:
            break
        if length > 2 and not np.array_equal(a, first + step * np.arange(length)):
            break
        stop = first + step * length
        slices.append(slice(first, stop if stop >= 0 else None, step))
        axes.append(ix.axes[0])
    else:
        return _LA(arr[tuple(slices)], tuple(axes))

    # General path: gather with broadcast index arrays; out-of-bounds only where masked off.
    axes = _union(*idx)
    out_of_bounds = None
    for ix, n in zip(idx, arr.shape):
        bad = (ix.arr < 0) | (ix.arr >= n)
        if bad.any():
            bla = _LA(bad, ix.axes)
            out_of_bounds = bla if out_of_bounds is None else _map(np.logical_or, out_of_bounds, bla)
    if out_of_bounds is not None:
        hit = out_of_bounds if mask is None else _map(np.logical_and, out_of_bounds, mask)
        if hit.arr.any():
            pos = np.argwhere(hit.arr)[0]
            point = {ax: int(pos[k]) + ctx.ranges[ax][0] for k, ax in enumerate(hit.axes)}
            values = []
            for ix in idx:
                values.append(int(ix.arr[tuple(point[ax] - ctx.ranges[ax][0] for ax in ix.axes)]))
            d = next(d for d, (v, n) in enumerate(zip(values, arr.shape)) if not 0 <= v < n)
            raise InterpreterError(
                f"out-of-bounds read {e.tensor}[{', '.join(map(str, values))}]{_at(e.loc)}: index {d + 1} is "
                f"{values[d]}, but the dimension is {arr.shape[d]} (at {ctx.where(point)})")
        if 0 in arr.shape:  # nothing can be read, and nothing is needed
            return _LA(np.zeros(tuple(ctx.extent(a) for a in axes), arr.dtype), axes)
        idx = [_LA(np.clip(ix.arr, 0, n - 1), ix.axes) for ix, n in zip(idx, arr.shape)]
    gathered = arr[tuple(_expand(ix, axes) for ix in idx)]
    want = tuple(ctx.extent(a) for a in axes)
    if gathered.shape != want:
        gathered = np.broadcast_to(gathered, want)
    return _LA(gathered, axes)


def _check_divisor(e: N.Binary, b: _LA, ctx: _Ctx, mask: Optional[_LA]) -> _LA:
    zero = b.arr == 0
    if not zero.any():
        return b
    hit = _LA(zero, b.axes) if mask is None else _map(np.logical_and, _LA(zero, b.axes), mask)
    if hit.arr.any():
        pos = np.argwhere(hit.arr)[0]
        point = {ax: int(pos[k]) + ctx.ranges[ax][0] for k, ax in enumerate(hit.axes)}
        where = f" (at {ctx.where(point)})" if point else ""
        raise InterpreterError(f"integer {'division' if e.op == '/' else 'remainder'} by zero{_at(e.loc)}{where}")
    return _LA(np.where(zero, 1, b.arr), b.axes)


_COMPARE = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
            ">": np.greater, ">=": np.greater_equal}
_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply}


def _binary(e: N.Binary, ctx: _Ctx, mask: Optional[_LA], index: bool) -> _LA:
    if e.op in ("and", "or"):
        a = _eval(e.lhs, ctx, mask)
        guard = _mask_and(mask, a if e.op == "and" else _LA(np.logical_not(a.arr), a.axes))
        if _never(guard):
            return a  # short circuit everywhere it matters
        b = _eval(e.rhs, ctx, guard)
        return _map(np.logical_and if e.op == "and" else np.logical_or, a, b)
    a = _eval(e.lhs, ctx, mask, index)
    b = _eval(e.rhs, ctx, mask, index)
    if e.op in _COMPARE:
        return _map(_COMPARE[e.op], a, b)
    if e.op in _ARITH:
        return _map(_ARITH[e.op], a, b)
    if e.op in ("/", "%"):
        integer = a.arr.dtype.kind in "iu" and b.arr.dtype.kind in "iu"
        if not integer:
            return _map(np.divide if e.op == "/" else np.fmod, a, b)
        b = _check_divisor(e, b, ctx, mask)
        if index:  # floor semantics, like symbolic.evaluate and the bounds check
            return _map(np.floor_divide if e.op == "/" else np.mod, a, b)
        if e.op == "%":
            return _map(np.fmod, a, b)  # C remainder: the sign of the dividend
        return _map(lambda x, y: (x - np.fmod(x, y)) // y, a, b)  # C division: toward zero
    raise InterpreterError(f"unknown binary operator {e.op!r}")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


_MATH1 = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "rsqrt": lambda x: 1.0 / np.sqrt(x),
          "abs": np.abs, "sin": np.sin, "cos": np.cos, "tanh": np.tanh, "sigmoid": _sigmoid,
          "relu": lambda x: np.maximum(x, 0), "floor": np.floor, "ceil": np.ceil}
_MATH2 = {"min": np.minimum, "max": np.maximum, "pow": np.power}
_CASTS = ("f32", "f16", "f64", "i32")


def _call(e: N.Call, ctx: _Ctx, mask: Optional[_LA]) -> _LA:
    fn = e.fn
    if fn == "select":
        cond, yes, no = e.args
        c = _eval(cond, ctx, mask)
        if c.arr.ndim == 0:
            return _eval(yes if bool(c.arr) else no, ctx, mask)
        dtype = _dtype_of(e)
        m_yes = _mask_and(mask, c)
        m_no = _mask_and(mask, _LA(np.logical_not(c.arr), c.axes))
        a = _const(0, dtype) if _never(m_yes) else _eval(yes, ctx, m_yes)
        b = _const(0, dtype) if _never(m_no) else _eval(no, ctx, m_no)
        return _map(np.where, c, a, b)
    if fn in _CASTS:
        (x,) = e.args
        v = _eval(x, ctx, mask)
        return _LA(_cast(v.arr, _dtype_of(x), fn), v.axes)
    if fn in _MATH1:
        (x,) = e.args
        return _map(_MATH1[fn], _eval(x, ctx, mask))
    if fn in _MATH2:
        x, y = e.args
        a, b = _eval(x, ctx, mask), _eval(y, ctx, mask)
        if fn == "pow" and a.arr.dtype.kind in "iu":
            return _map(lambda p, q: _cast(np.power(p.astype(np.float64), q), "f64", "i32"), a, b)
        return _map(_MATH2[fn], a, b)
    raise InterpreterError(f"unknown function `{fn}`{_at(e.loc)}")


# ---------------------------------------------------------------- reductions
def _identity(op: str, dtype: str) -> _LA:
    if op == "sum":
        return _const(0, dtype)
    if op == "prod":
        return _const(1, dtype)
    if dtype == "i32":
        return _const(_I32_MIN if op == "max" else _I32_MAX, dtype)
    return _const(-np.inf if op == "max" else np.inf, dtype)


def _reduce_ctx(e: N.Reduce, ctx: _Ctx, ranges) -> Tuple[_Ctx, List[str]]:
    scope, rng, red = {}, {}, []
    taken = dict(ctx.ranges)
    for v, r in zip(e.vars, ranges):
        ax = v.name
        while ax in taken:
            ax += "'"
        taken[ax] = r
        scope[v.name], rng[ax] = ax, r
        red.append(ax)
    return ctx.derive(scope, rng), red


_COMBINE = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum}


def _reduce(e: N.Reduce, ctx: _Ctx, mask: Optional[_LA]) -> _LA:
    dtype = _dtype_of(e)
    ranges = []
    for v in e.vars:
        if v.lo is None or v.hi is None:
            raise ValueError(f"reduction variable `{v.name}` has no range: run the checker first")
        ranges.append(ctx.bound.range_of(v))
    if any(hi <= lo for lo, hi in ranges):
        return _identity(e.op, dtype)  # the body never runs
    inner, red = _reduce_ctx(e, ctx, ranges)
    return _reduce_chunked(e, inner, red, mask)


def _reduce_chunked(e: N.Reduce, inner: _Ctx, red: List[str], mask: Optional[_LA]) -> _LA:
    plan = _chunk_plan(inner, red, lambda c: _estimate_body(e, c, red)[1])
    if plan is None:
        return _reduce_once(e, inner, red, mask)
    ax, step = plan
    result = None
    for part in _chunks(inner, ax, step):
        r = _reduce_chunked(e, part, red, mask)
        result = r if result is None else _map(_COMBINE[e.op], result, r)
    return result


def _reduce_once(e: N.Reduce, inner: _Ctx, red: List[str], mask: Optional[_LA]) -> _LA:
    factors = _factors(e.body) if e.op == "sum" else [e.body]
    if len(factors) > 1:
        las = [_eval(f, inner, mask) for f in factors]
        coef = None
        arrays = []
        for la in las:
            if la.axes:
                arrays.append(la)
            else:
                coef = la.arr if coef is None else coef * la.arr
        present = _union(*arrays)
        out = tuple(a for a in present if a not in red)
        if not arrays:
            res = _LA(coef, ())
            coef = None
        elif len(arrays) == 1:
            (la,) = arrays
            res = _LA(np.sum(la.arr, axis=tuple(i for i, a in enumerate(la.axes) if a in red)), out)
        else:
            letters = dict(zip(present, string.ascii_letters))
            spec = ",".join("".join(letters[a] for a in la.axes) for la in arrays)
            spec += "->" + "".join(letters[a] for a in out)
            res = _LA(np.asarray(np.einsum(spec, *(la.arr for la in arrays), optimize=True)), out)
        if coef is not None:
            res = _LA(res.arr * coef, res.axes)
    else:
        body = _eval(e.body, inner, mask)
        present = body.axes
        reduce_axes = tuple(i for i, a in enumerate(body.axes) if a in red)
        fn = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}[e.op]
        out = tuple(a for a in body.axes if a not in red)
        res = _LA(np.asarray(fn(body.arr, axis=reduce_axes)) if reduce_axes else body.arr, out)
    # reduction variables the body does not depend on
    missing = math.prod(inner.extent(a) for a in red if a not in present)
    if missing != 1:
        if e.op == "sum":
            res = _LA(res.arr * missing, res.axes)
        elif e.op == "prod":
            res = _LA(res.arr ** missing, res.axes)
    return res


# ---------------------------------------------------------------- statements
def _statement(s: N.Stmt, ctx0: _Ctx, dtype: str, shape: Tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, _compute_dtype(dtype))
    if 0 in shape:
        return out
    axes = tuple(s.indices)
    ctx = ctx0.derive({v: v for v in axes}, {v: (0, n) for v, n in zip(axes, shape)})
    value_dtype = _dtype_of(s.value)

    def go(c: _Ctx):
        plan = _chunk_plan(c, axes, lambda cc: _estimate(s.value, cc)[1])
        if plan is not None:
            ax, step = plan
            for part in _chunks(c, ax, step):
                go(part)
            return
        la = _eval(s.value, c, None)
        arr = _cast(la.arr, value_dtype, dtype) if value_dtype != dtype else _round(la.arr, dtype)
        region = tuple(slice(*c.ranges[v]) for v in axes)
        out[region] = _expand(_LA(arr, la.axes), axes)

    go(ctx)
    return out


# ---------------------------------------------------------------- entry points
def _scalar_value(name: str, dtype: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 0:
        raise ValueError(f"scalar `{name}` ({dtype}) must be a number, got an array of shape {arr.shape}")
    if dtype == "i32":
        if arr.dtype.kind == "f" and not float(arr).is_integer():
            raise ValueError(f"scalar `{name}` is i32 but got the non-integer {value!r}")
        v = int(arr)
        if not _I32_MIN <= v <= _I32_MAX:
            raise ValueError(f"scalar `{name}` = {v} does not fit in i32")
        return np.asarray(v, np.int64)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"scalar `{name}` ({dtype}) must be a number, got {value!r}")
    return _round(np.asarray(float(arr), np.float64), dtype)


def _prepare(bound: BoundKernel, inputs) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    """The store (input tensors, rounded) and the scalars; ValueError for bad inputs."""
    checked = bound.checked
    store: Dict[str, np.ndarray] = {}
    scalars: Dict[str, np.ndarray] = {}
    known = set()
    for p in checked.inputs:
        known.add(p.name)
        if p.name not in inputs:
            what = "scalar" if p.is_scalar else f"tensor of shape {bound.shapes[p.name]}"
            raise ValueError(f"missing input `{p.name}` ({p.dtype} {what})")
        value = inputs[p.name]
        if p.is_scalar:
            scalars[p.name] = _scalar_value(p.name, p.dtype, value)
            continue
        arr = np.asarray(value)
        want = tuple(bound.shapes[p.name])
        if arr.shape != want:
            raise ValueError(f"input `{p.name}`: expected shape {want}, got {arr.shape}")
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"input `{p.name}`: expected numbers ({p.dtype}), got dtype {arr.dtype}")
        store[p.name] = _round(arr.astype(NUMPY_DTYPE[p.dtype]), p.dtype)
    unknown = [k for k in inputs if k not in known]
    if unknown:
        raise ValueError(f"unknown input(s) {', '.join(map(repr, unknown))} for kernel `{bound.name}` "
                         f"(inputs: {', '.join(p.name for p in checked.inputs) or 'none'})")
    return store, scalars


@deep  # evaluation recurses on expressions, as deep as a flat chain is long
def run(bound: BoundKernel, inputs: Mapping[str, Union[np.ndarray, float, int]]) -> Dict[str, np.ndarray]:
    """Run a bound kernel; returns {output name: array in its declared dtype and bound shape}."""
    checked = bound.checked
    store, scalars = _prepare(bound, inputs)
    ctx = _Ctx(bound, store, scalars)
    with np.errstate(all="ignore"):
        for s in checked.body:
            store[s.target] = _statement(s, ctx, bound.dtype(s.target), tuple(bound.shapes[s.target]))
    result = {}
    for p in checked.outputs:
        shape = tuple(bound.shapes[p.name])
        arr = store.get(p.name)
        if arr is None:
            arr = np.zeros(shape, _compute_dtype(p.dtype))
        result[p.name] = np.asarray(arr).astype(NUMPY_DTYPE[p.dtype]).reshape(shape)
    return result


@deep
def run_at(bound: BoundKernel, inputs: Mapping[str, Union[np.ndarray, float, int]],
           points: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Outputs at some elements only: {output: its values at `points[output]`, an int array of
    shape (k, ndim)}. Temporaries are evaluated whole (outputs may read them); each output
    statement is evaluated at its points alone, so a huge output costs only its samples."""
    checked = bound.checked
    store, scalars = _prepare(bound, inputs)
    ctx = _Ctx(bound, store, scalars)
    read = {e.tensor for s in checked.body for e in N.walk(s.value) if isinstance(e, N.Access)}
    outputs = {p.name for p in checked.outputs} - read  # an output a later statement reads is needed whole
    result: Dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for s in checked.body:
            dtype, shape = bound.dtype(s.target), tuple(bound.shapes[s.target])
            want = np.asarray(points.get(s.target, np.zeros((0, len(shape)))), np.int64)
            want = want.reshape(-1, len(shape)) if shape else np.zeros((1, 0), np.int64)
            if s.target not in outputs:
                store[s.target] = _statement(s, ctx, dtype, shape)
                if s.target in points:
                    result[s.target] = store[s.target][tuple(want.T)].astype(NUMPY_DTYPE[dtype]).reshape(-1)
                continue
            pts = want
            vals = np.zeros(len(pts), _compute_dtype(dtype))
            value_dtype = _dtype_of(s.value)
            for k, pt in enumerate(pts):
                c = ctx.derive({v: v for v in s.indices}, {v: (int(x), int(x) + 1) for v, x in zip(s.indices, pt)})
                la = _eval(s.value, c, None)
                arr = _cast(la.arr, value_dtype, dtype) if value_dtype != dtype else _round(la.arr, dtype)
                vals[k] = np.asarray(arr).reshape(-1)[0]
            result[s.target] = vals.astype(NUMPY_DTYPE[dtype])
    return result


def largest_intermediate(bound: BoundKernel) -> int:
    """Elements of the largest array `run` materialises at once, after chunking (at most about
    CHUNK_ELEMENTS): what verify/memory.py needs to refuse a run that cannot fit before it starts."""
    scalars = {p.name: np.zeros((), np.float64) for p in bound.checked.inputs if p.is_scalar}
    ctx0 = _Ctx(bound, {}, scalars)
    best = 0
    for s in bound.checked.body:
        shape = tuple(bound.shapes[s.target])
        if 0 in shape:
            continue
        axes = tuple(s.indices)
        ctx = ctx0.derive({v: v for v in axes}, {v: (0, n) for v, n in zip(axes, shape)})
        best = max(best, min(_estimate(s.value, ctx)[1], CHUNK_ELEMENTS), math.prod(shape))
    return best


def random_inputs(bound: BoundKernel, seed: int = 0) -> Dict[str, Union[np.ndarray, float, int]]:
    """Inputs for `run`: floats uniform in [-1, 1), i32 in [-8, 8); scalars in [0.5, 1.5) or [1, 4)."""
    rng = np.random.default_rng(seed)
    out: Dict[str, Union[np.ndarray, float, int]] = {}
    for p in bound.checked.inputs:
        if p.is_scalar:
            if p.dtype == "i32":
                out[p.name] = int(rng.integers(1, 4))
            else:
                out[p.name] = float(np.asarray(rng.uniform(0.5, 1.5)).astype(NUMPY_DTYPE[p.dtype]))
            continue
        shape = tuple(bound.shapes[p.name])
        if p.dtype == "i32":
            out[p.name] = rng.integers(-8, 8, size=shape).astype(np.int32)
        else:
            out[p.name] = rng.uniform(-1.0, 1.0, size=shape).astype(NUMPY_DTYPE[p.dtype])
    return out
