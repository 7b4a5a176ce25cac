"""Per-element rounding-error bounds from a float64 pass: the tolerance of a validation.

A float kernel may round differently from the reference (another summation order, fused
multiply-adds, math functions within their ulp budget), so its outputs are compared with a
tolerance. The tolerance must be tight: wide enough for any correct float32 kernel, and no
wider, so that a kernel that drops a term, scales one, or computes in lower precision fails.

For every output element we compute M, a first-order bound of the rounding error in units of
the output's machine epsilon (running error analysis, Higham ch. 3):

    |computed - exact| <~ eps * M

by rewriting the UIR program into a *magnitude program* that the reference interpreter runs
in float64 beside the original. Each node's M follows from its operands' values V and
magnitudes M:

| node                 | M                                                                    |
| input, scalar, size  | 0 (exact)                                                            |
| a +- b +- ... (k)    | sum M(t) + (k - 1) * sum |V(t)|   (flattened chains)                  |
| a * b                | M(a)|V(b)| + |V(a)|M(b) + |V(a*b)|                                    |
| a / b                | (M(a) + |V(a/b)| M(b)) / |V(b)| + 3 |V(a/b)|   (2.5 ulp division)     |
| sum over n terms     | sum M(body) + g(n) sum |V(body)|                                       |
| max/min, select      | max of the operands' M / the chosen branch's M                       |
| f(x) (exp, log, ...) | |f'(V(x))| M(x) + ulp(f) |f(V(x))|   (OpenCL's ulp budget of f)       |
| a stored tensor      | M(rhs) + |V(rhs)| (the store rounds)                                  |

The growth g(n) of a long sum: the worst case is n - 1 (times u = eps/2), which would let a
kernel that is several per cent wrong pass a sum of 10^6 terms. Rounding errors of random data
mostly cancel (the probabilistic bound of Higham & Mary 2019 grows like sqrt(n)), but not all:
a serial float32 sum of 10^6 positive random terms drifts to ~4 sqrt(n) (measured), so
g(n) = sqrt(n) + n/128. Identical terms (the 'constant' input distribution) round the same way
at every step and drift linearly (0.11 n measured at 10^6): with `correlated=True`,
g(n) = n/4. The comparison is then

    |got - ref| <= LAMBDA * eps * M + tiny          (every element)
    ||got - ref||_2 <= LAMBDA_NORM * eps * ||M||_2   (the whole output)

A program whose magnitude program cannot be built (the checker refuses it) gets the old
relative tolerance; `ErrorBounds.method` says which one was used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..ir import nodes as N
from ..ir import printer

__all__ = ["LAMBDA", "LAMBDA_NORM", "NORM_MIN_ELEMENTS", "EPS", "ErrorBounds", "magnitude_program", "error_bounds", "error_bounds_at"]

LAMBDA = 4.0  # per element: headroom over the first-order bound
LAMBDA_NORM = 2.0  # normwise (outputs of 16 elements or more): errors sit well below their bounds on average
NORM_MIN_ELEMENTS = 16
EPS = {"f32": 2.0 ** -23, "f16": 2.0 ** -10, "f64": 2.0 ** -52}
_PREFIX = "uhopm_"
_MAX_TEXT = 400_000  # a magnitude program larger than this is not worth its evaluation
# ulp budgets of OpenCL C's full-profile single-precision built-ins (CL 1.2, table 7.1), rounded up
_ULP = {"exp": 4, "log": 4, "sqrt": 4, "rsqrt": 4, "sin": 4, "cos": 4, "tanh": 6, "sigmoid": 8, "pow": 16}
_ZERO = "0.0"


@dataclass
class ErrorBounds:
    """M per output (float64 arrays of the output's shape), or None with the fallback's reason."""
    magnitudes: Optional[Dict[str, np.ndarray]]
    method: str  # 'error-analysis' or 'fallback: <why>'


def _v(e: N.Expr) -> str:
    return f"f64({printer.expr(e)})"


def _abs(e: N.Expr) -> str:
    return f"abs({_v(e)})"


def _add(*parts: str) -> str:
    parts = tuple(p for p in parts if p != _ZERO)
    return " + ".join(f"({p})" for p in parts) if parts else _ZERO


def _mul(a: str, b: str) -> str:
    return _ZERO if _ZERO in (a, b) else f"({a}) * ({b})"


def _is_float(e: N.Expr) -> bool:
    return e.dtype in ("f32", "f16", "f64")


def _terms(e: N.Expr) -> List[N.Expr]:
    """The operands of a flattened chain of + and - (and unary minus)."""
    if isinstance(e, N.Binary) and e.op in ("+", "-"):
        return _terms(e.lhs) + _terms(e.rhs)
    if isinstance(e, N.Unary) and e.op == "-":
        return _terms(e.operand)
    return [e]


def _header(e: N.Reduce, op: Optional[str] = None) -> str:
    rv = [v.name if v.lo is None else f"{v.name} in {printer.expr(v.lo)}..{printer.expr(v.hi)}" for v in e.vars]
    return f"{op or e.op}({', '.join(rv)})"


class _Rewriter:
    """M(e) as UIR text over the same names, for one bound kernel."""

    def __init__(self, bound, temps: Mapping[str, str], correlated: bool = False):
        self.bound = bound
        self.temps = temps  # stored tensor -> its magnitude tensor
        self.correlated = correlated

    def m(self, e: N.Expr) -> str:
        if not _is_float(e):
            return _ZERO  # integers and booleans are exact
        if isinstance(e, N.Const):
            return _ZERO if float(e.value).is_integer() else repr(abs(float(e.value)))
        if isinstance(e, N.Name):
            return _ZERO
        if isinstance(e, N.Access):
            if e.tensor in self.temps:
                return f"{self.temps[e.tensor]}[{', '.join(printer.expr(i) for i in e.indices)}]"
            return _ZERO
        if isinstance(e, N.Unary):
            return self.m(e.operand)
        if isinstance(e, N.Binary):
            return self._binary(e)
        if isinstance(e, N.Call):
            return self._call(e)
        if isinstance(e, N.Reduce):
            return self._reduce(e)
        raise TypeError(f"not an expression: {e!r}")

    def _binary(self, e: N.Binary) -> str:
        if e.op in ("+", "-"):
            terms = _terms(e)
            return _add(*(self.m(t) for t in terms), _mul(str(len(terms) - 1), _add(*(_abs(t) for t in terms))))
        ma, mb = self.m(e.lhs), self.m(e.rhs)
        if e.op == "*":
            return _add(_mul(ma, _abs(e.rhs)), _mul(_abs(e.lhs), mb), _abs(e))
        if e.op == "/":
            q = _abs(e)
            return _add(f"({_add(ma, _mul(q, mb))}) / {_abs(e.rhs)}", _mul("3.0", q))
        if e.op == "%":  # fmod is exact; its operands' errors pass through
            return _add(ma, mb)
        raise ValueError(f"no error rule for `{e.op}`")

    def _call(self, e: N.Call) -> str:
        fn, args = e.fn, e.args
        if fn == "select":
            c, a, b = args
            return f"select({printer.expr(c)}, {self.m(a)}, {self.m(b)})"
        if fn in ("f32", "f16", "f64"):
            (x,) = args
            mx = self.m(x)
            if fn == "f64":
                return mx
            # rounding to a narrower type, in units of the output's eps
            return _add(mx, _mul(repr(EPS[fn] / EPS["f32"]), _abs(e)))
        if fn in ("abs", "relu", "floor", "ceil"):
            return self.m(args[0])
        if fn in ("max", "min"):
            return f"max({self.m(args[0])}, {self.m(args[1])})"
        x = args[0]
        mx, vx, fx = self.m(x), _v(x), _abs(e)
        slope = {"exp": fx, "log": f"1.0 / abs({vx})", "sqrt": f"0.5 / sqrt(abs({vx}))",
                 "rsqrt": f"0.5 * {fx} / abs({vx})", "sin": "1.0", "cos": "1.0",
                 "tanh": f"abs(1.0 - {_v(e)} * {_v(e)})", "sigmoid": f"abs({_v(e)} * (1.0 - {_v(e)}))"}
        if fn == "pow":
            a, b = args
            ma, mb = mx, self.m(b)
            da = _mul(ma, f"abs({_v(b)} * pow(abs({_v(a)}), {_v(b)} - 1.0))")
            db = _mul(mb, f"abs({_v(e)} * log(abs({_v(a)})))")
            return _add(da, db, _mul(str(_ULP["pow"]), fx))
        if fn not in slope:
            raise ValueError(f"no error rule for `{fn}`")
        return _add(_mul(slope[fn], mx), _mul(str(_ULP[fn]), fx))

    def _reduce(self, e: N.Reduce) -> str:
        mb = self.m(e.body)
        if e.op in ("max", "min"):
            return _ZERO if mb == _ZERO else f"{_header(e, 'max')} {mb}"
        n = 1
        for v in e.vars:
            lo, hi = self.bound.range_of(v)
            n *= max(0, hi - lo)
        grow = max(n, 1) / 4.0 if self.correlated else math.sqrt(max(n, 1)) + n / 128.0
        if e.op == "sum":
            factors = _product_factors(e.body)
            if mb == _ZERO or all(self.m(f) == _ZERO for f in factors):
                # a product of exact values: the einsum path of the interpreter evaluates it
                body = " * ".join(_abs(f) for f in factors)
                return f"{repr(grow + len(factors))} * ({_header(e)} {body})"
            return f"{_header(e)} ({_add(mb, _mul(repr(grow), _abs(e.body)))})"
        # prod: relative errors add up
        rel = f"({_add(mb, _abs(e.body))}) / {_abs(e.body)}"
        return _mul(_abs(e), f"({_header(e, 'sum')} {rel})")


def _product_factors(e: N.Expr) -> List[N.Expr]:
    if isinstance(e, N.Binary) and e.op == "*":
        return _product_factors(e.lhs) + _product_factors(e.rhs)
    return [e]


def magnitude_program(bound, correlated: bool = False) -> Tuple[str, Dict[str, str]]:
    """The magnitude program's UIR text and {output: its magnitude output} for a bound kernel."""
    checked = bound.checked
    k = checked.kernel
    names = {s.target: f"{_PREFIX}{s.target}" for s in k.body}
    rw = _Rewriter(bound, {}, correlated)
    lines = []
    for s in k.body:
        lhs = s.indices and f"[{', '.join(s.indices)}]" or ""
        m = rw.m(s.value) if _is_float(s.value) else _ZERO
        store = _add(m, _abs(s.value)) if _is_float(s.value) else _ZERO
        if store == _ZERO and lhs:
            store = f"0.0 * {_abs(s.value)}" if _is_float(s.value) else f"0.0 * abs(f64({printer.expr(s.value)}))"
        lines.append(printer.stmt(s))
        lines.append(f"{names[s.target]}{lhs} = {store}")
        rw.temps[s.target] = names[s.target]
    outs = [printer.param(p) for p in k.outputs]
    outs += [f"{names[p.name]}: f64{printer.dims(p.shape)}" for p in k.outputs]
    head = f"kernel {k.name}({', '.join(printer.param(p) for p in k.inputs)}) -> ({', '.join(outs)}) {{"
    text = "\n".join([head, *("    " + ln for ln in lines), "}"])
    return text, {p.name: names[p.name] for p in k.outputs}


def error_bounds(bound, inputs: Mapping[str, object], correlated: bool = False) -> ErrorBounds:
    """M for every float output of `bound` on `inputs` (never raises: falls back instead);
    `correlated`: the inputs repeat one value (see the module docstring)."""
    from .. import ir
    from ..ir import interpreter
    if not any(p.dtype in EPS for p in bound.checked.outputs):
        return ErrorBounds({}, "error-analysis")
    try:
        text, outs = magnitude_program(bound, correlated)
        if len(text) > _MAX_TEXT:
            return ErrorBounds(None, f"fallback: the magnitude program is too large ({len(text)} characters)")
        mk = ir.bind_shapes(ir.select_kernel(ir.load(text)), dict(bound.sizes))
        res = interpreter.run(mk, inputs)
    except Exception as e:  # noqa: BLE001 - an unsupported construct: keep the relative tolerance
        return ErrorBounds(None, f"fallback: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    return ErrorBounds({o: np.asarray(res[m], np.float64) for o, m in outs.items()}, "error-analysis")


def error_bounds_at(bound, inputs: Mapping[str, object], points: Mapping[str, np.ndarray]) -> ErrorBounds:
    """M at some elements only (`interpreter.run_at`'s points), for a sampled check of a large shape."""
    from .. import ir
    from ..ir import interpreter
    try:
        text, outs = magnitude_program(bound)
        if len(text) > _MAX_TEXT:
            return ErrorBounds(None, f"fallback: the magnitude program is too large ({len(text)} characters)")
        mk = ir.bind_shapes(ir.select_kernel(ir.load(text)), dict(bound.sizes))
        res = interpreter.run_at(mk, inputs, {m: points[o] for o, m in outs.items() if o in points})
    except Exception as e:  # noqa: BLE001
        return ErrorBounds(None, f"fallback: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    return ErrorBounds({o: np.asarray(res[m], np.float64) for o, m in outs.items() if m in res}, "error-analysis")
