"""UIR -> a TT-Metal lowering plan, or a clear error naming what TT-Metal cannot express.

TT-Metal kernels work on 32x32 bfloat16 tiles. Two program shapes lower:

* **elementwise**: one output, every operand read as `X[<the target's indices>]` with the
  output's shape, built from `+ - * /`, unary minus, relu/exp/log/sqrt/rsqrt/sigmoid/tanh/
  abs/sin/cos, `max(x, 0)`, `pow(x, 2)`, float casts, literals and scalar parameters.
  Temporaries are inlined into the output's expression. Every operand has the same layout,
  so a "tile" is simply 1024 consecutive row-major elements: rank >= 2 needs the last two
  dims to be multiples of 32, rank 1 a length that is a multiple of 1024.
* **matmul**: `C[i, j] = sum(k) A[i, k] * B[k, j]` over inputs A (MxK) and B (KxN) with
  M, K, N multiples of 32, optionally wrapped in unary/scalar operations (`relu(sum ...)`),
  which run on the result tile in DST before it is packed. A and B are tilized on the host.

Everything else raises `TTMetalError` naming the construct and the statement, e.g.
"ttmetal: reductions other than matmul are not supported (`max(c)` in statement m, line 3)".
"""
from __future__ import annotations

import itertools
import struct
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...ir import nodes as N
from ...ir import printer
from ...ir.typed import FLOAT_DTYPES, BoundKernel

__all__ = ["cb_var", "TTMetalError", "TTMetalPlan", "InputTensor", "TileOp", "plan_kernel", "f32_bits", "TILE",
           "TILE_ELEMS", "TILE_BYTES", "MAX_DST_TILES", "OUTPUT_CB"]

TILE = 32
TILE_ELEMS = TILE * TILE
TILE_BYTES = TILE_ELEMS * 2  # bfloat16
MAX_DST_TILES = 8  # DST in half-sync mode with 16-bit data
MAX_INPUTS = 8
OUTPUT_CB = 16  # tt::CBIndex::c_16, the examples' output CB


class TTMetalError(ValueError):
    """A program (or a part of it) that the TT-Metal target cannot express."""


def cb_var(tensor: str) -> str:
    """The kernels' variable for an input tensor's circular buffer (`cb_out` is the output's)."""
    return f"cb_{tensor}" if tensor != "out" else "cb_out_in"


def f32_bits(x: float) -> int:
    """The IEEE binary32 bit pattern of x (rounded to float32), as the SFPU scalar ops take it."""
    with np.errstate(over="ignore"):
        return struct.unpack("<I", struct.pack("<f", float(np.float32(x))))[0]


# ---------------------------------------------------------------- the plan
@dataclass(frozen=True)
class InputTensor:
    name: str
    cb: int  # circular buffer index (tt::CBIndex::c_<cb>)
    shape: Tuple[int, ...]
    tiles: int
    dtype: str


@dataclass(frozen=True)
class TileOp:
    """One compute-kernel call on DST tiles.

    `cls` is 'fpu' for calls that (re)configure the unpacker/FPU (copy_tile, add_tiles, ...),
    'sfpu' for SFPU calls; `init` is the call that must precede it (after another op of the
    same class with a different init); `header` is what to include for it."""
    call: str
    init: str
    cls: str
    header: str
    what: str  # short description for the plan/README


@dataclass(frozen=True)
class TTMetalPlan:
    kind: str  # 'eltwise' or 'matmul'
    kernel: str
    output: str
    output_dtype: str
    output_shape: Tuple[int, ...]
    inputs: Tuple[InputTensor, ...]
    num_tiles: int  # output tiles
    tiled: bool  # host tilizes (matmul) or streams 1024-element pages (elementwise)
    ops: Tuple[TileOp, ...]  # eltwise: the whole tile program; matmul: the epilogue
    dst_tiles: int  # DST tiles the tile program needs
    scalars: Tuple[Tuple[str, str], ...]  # (name, dtype): compute runtime args after the fixed ones
    expression: str  # the output's expression with temporaries inlined
    n_ops: int  # rounding steps, for the bfloat16 tolerance
    reduction_length: int
    fp32_dest_acc_en: bool
    math_fidelity: str = "HiFi4"
    Mt: int = 0
    Kt: int = 0
    Nt: int = 0
    headers: Tuple[str, ...] = ()
    notes: Tuple[str, ...] = field(default=())

    def to_json(self) -> dict:
        d = asdict(self)
        d["ops"] = [asdict(o) for o in self.ops]
        d["inputs"] = [asdict(i) for i in self.inputs]
        return d


# ---------------------------------------------------------------- helpers
_UNARY = {
    # fn: (init, call, header, rounding steps)
    "relu": ("relu_tile_init();", "relu_tile({d});", "api/compute/eltwise_unary/relu.h", 1),
    "exp": ("exp_tile_init();", "exp_tile({d});", "api/compute/eltwise_unary/exp.h", 2),
    "log": ("log_tile_init();", "log_tile({d});", "api/compute/compute_kernel_api.h", 2),
    "sqrt": ("sqrt_tile_init();", "sqrt_tile({d});", "api/compute/eltwise_unary/sqrt.h", 2),
    "rsqrt": ("rsqrt_tile_init();", "rsqrt_tile({d});", "api/compute/eltwise_unary/rsqrt.h", 2),
    "sigmoid": ("sigmoid_tile_init();", "sigmoid_tile({d});", "api/compute/compute_kernel_api.h", 2),
    "tanh": ("tanh_tile_init();", "tanh_tile({d});", "api/compute/compute_kernel_api.h", 2),
    "abs": ("abs_tile_init();", "abs_tile({d});", "api/compute/compute_kernel_api.h", 0),
    "sin": ("sin_tile_init();", "sin_tile({d});", "api/compute/eltwise_unary/trigonometry.h", 2),
    "cos": ("cos_tile_init();", "cos_tile({d});", "api/compute/eltwise_unary/trigonometry.h", 2),
    "neg": ("negative_tile_init();", "negative_tile({d});", "api/compute/eltwise_unary/negative.h", 0),
    "square": ("square_tile_init();", "square_tile({d});", "api/compute/compute_kernel_api.h", 1),
    "recip": ("recip_tile_init();", "recip_tile({d});", "api/compute/eltwise_unary/recip.h", 2),
}
_FPU_BINARY = {"+": ("add_tiles", "add_tiles_init"), "-": ("sub_tiles", "sub_tiles_init"),
               "*": ("mul_tiles", "mul_tiles_init")}
_SFPU_BINARY = {"+": "add_binary_tile", "-": "sub_binary_tile", "*": "mul_binary_tile", "/": "div_binary_tile"}
_SCALAR_OP = {"+": "add_unary_tile", "-": "sub_unary_tile", "*": "mul_unary_tile", "/": "div_unary_tile",
              "r-": "rsub_unary_tile"}
_FLOAT_CASTS = ("f16", "f32", "f64")
HDR_BINARY = "api/compute/eltwise_binary.h"
HDR_SFPU_BINARY = "api/compute/eltwise_binary_sfpu.h"
HDR_SCALAR = "api/compute/eltwise_unary/binop_with_scalar.h"
HDR_COPY = "api/compute/tile_move_copy.h"
HDR_MATMUL = "api/compute/matmul.h"


def _shape_text(shape: Sequence[int]) -> str:
    return "x".join(str(int(d)) for d in shape) if shape else "()"


def _display(e: N.Expr) -> N.Expr:
    """e with reduction ranges dropped (they are implicit in the source), for messages."""
    if isinstance(e, N.Reduce):
        return N.Reduce(e.op, tuple(N.RVar(v.name) for v in e.vars), _display(e.body), e.loc, e.dtype)
    if isinstance(e, N.Unary):
        return N.Unary(e.op, _display(e.operand), e.loc, e.dtype)
    if isinstance(e, N.Binary):
        return N.Binary(e.op, _display(e.lhs), _display(e.rhs), e.loc, e.dtype)
    if isinstance(e, N.Call):
        return N.Call(e.fn, tuple(_display(a) for a in e.args), e.loc, e.dtype)
    return e


def _text(e: N.Expr) -> str:
    try:
        return printer.expr(_display(e))
    except Exception:  # noqa: BLE001 - constants without a spelling
        return repr(e)


def _where(s: N.Stmt) -> str:
    return f"statement {s.target}, line {s.loc.line}" if s.loc.line else f"statement {s.target}"


def _reduce_head(r: N.Reduce) -> str:
    return f"{r.op}({', '.join(v.name for v in r.vars)})"


def _strip_casts(e: N.Expr) -> N.Expr:
    while isinstance(e, N.Call) and e.fn in _FLOAT_CASTS and len(e.args) == 1:
        e = e.args[0]
    return e


def _factors(e: N.Expr) -> List[N.Expr]:
    e = _strip_casts(e)
    if isinstance(e, N.Binary) and e.op == "*":
        return _factors(e.lhs) + _factors(e.rhs)
    return [e]


def _is_bare(a: N.Access) -> bool:
    return all(isinstance(i, N.Name) for i in a.indices)


# ---------------------------------------------------------------- statement-level screening
class _Screen:
    """Rejects constructs TT-Metal cannot express, naming the first one found."""

    def __init__(self, bound: BoundKernel):
        self.b = bound

    def stmt(self, s: N.Stmt) -> None:
        self.expr(s.value, s)

    def expr(self, e: N.Expr, s: N.Stmt) -> None:
        where = _where(s)
        if isinstance(e, N.Reduce):
            if not self._matmul_like(e):
                raise TTMetalError(f"ttmetal: reductions other than matmul are not supported "
                                   f"(`{_reduce_head(e)}` in {where})")
            for f in _factors(e.body):
                self.expr(f, s)
            return
        if isinstance(e, N.Call):
            if e.fn == "select":
                raise TTMetalError(f"ttmetal: select is not supported (`{_text(e)}` in {where})")
            if e.fn == "i32":
                raise TTMetalError(f"ttmetal: integer casts are not supported (`{_text(e)}` in {where}); "
                                   "the device computes in bfloat16")
            if e.fn in ("floor", "ceil", "min"):
                raise TTMetalError(f"ttmetal: `{e.fn}` is not supported (`{_text(e)}` in {where})")
            if e.fn == "max" and not _relu_form(e):
                raise TTMetalError(f"ttmetal: `max` is supported only as max(x, 0) (`{_text(e)}` in {where})")
            if e.fn == "pow" and not _square_form(e):
                raise TTMetalError(f"ttmetal: `pow` is supported only as pow(x, 2) (`{_text(e)}` in {where})")
        elif isinstance(e, N.Binary):
            if e.op not in ("+", "-", "*", "/"):
                raise TTMetalError(f"ttmetal: operator `{e.op}` is not supported (`{_text(e)}` in {where})")
        elif isinstance(e, N.Unary):
            if e.op != "-":
                raise TTMetalError(f"ttmetal: operator `{e.op}` is not supported (`{_text(e)}` in {where})")
        elif isinstance(e, N.Access):
            if not _is_bare(e):
                raise TTMetalError(f"ttmetal: access `{_text(e)}` is not elementwise (stencils, shifts and "
                                   f"strided reads are not supported; {where})")
            return
        elif isinstance(e, N.Name) and e.kind in ("index", "size"):
            raise TTMetalError(f"ttmetal: using the {e.kind} `{e.name}` as a value is not supported ({where})")
        for c in N.children(e):
            self.expr(c, s)

    def _matmul_like(self, r: N.Reduce) -> bool:
        if r.op != "sum" or len(r.vars) != 1:
            return False
        return sum(isinstance(f, N.Access) for f in _factors(r.body)) >= 2


def _relu_form(e: N.Call) -> bool:
    return e.fn == "max" and any(_is_zero(a) for a in e.args)


def _square_form(e: N.Call) -> bool:
    return e.fn == "pow" and isinstance(_strip_casts(e.args[1]), N.Const) and float(_strip_casts(e.args[1]).value) == 2.0


def _is_zero(e: N.Expr) -> bool:
    e = _strip_casts(e)
    return isinstance(e, N.Const) and float(e.value) == 0.0


# ---------------------------------------------------------------- inlining temporaries
class _Inliner:
    def __init__(self, defs: Dict[str, N.Stmt]):
        self.defs = defs
        self.fresh = itertools.count()

    def expr(self, e: N.Expr, env: Dict[str, str]) -> N.Expr:
        """e with index names renamed by env and every defined tensor replaced by its value."""
        if isinstance(e, N.Name):
            if e.kind == "index" and e.name in env:
                return N.Name(env[e.name], e.loc, e.dtype, e.kind)
            return e
        if isinstance(e, N.Access):
            idx = tuple(self.expr(i, env) for i in e.indices)
            if e.tensor in self.defs:
                d = self.defs[e.tensor]
                if not all(isinstance(i, N.Name) for i in idx):
                    raise TTMetalError(f"ttmetal: access `{_text(e)}` is not elementwise")
                inner = {v: i.name for v, i in zip(d.indices, idx)}
                return self.expr(d.value, inner)
            return N.Access(e.tensor, idx, e.loc, e.dtype)
        if isinstance(e, N.Reduce):
            env2 = dict(env)
            vs = []
            taken = set(env.values())
            for v in e.vars:
                new = v.name if v.name not in taken else f"{v.name}_{next(self.fresh)}"
                env2[v.name] = new
                vs.append(N.RVar(new, v.lo, v.hi, v.loc))
            return N.Reduce(e.op, tuple(vs), self.expr(e.body, env2), e.loc, e.dtype)
        if isinstance(e, N.Unary):
            return N.Unary(e.op, self.expr(e.operand, env), e.loc, e.dtype)
        if isinstance(e, N.Binary):
            return N.Binary(e.op, self.expr(e.lhs, env), self.expr(e.rhs, env), e.loc, e.dtype)
        if isinstance(e, N.Call):
            return N.Call(e.fn, tuple(self.expr(a, env) for a in e.args), e.loc, e.dtype)
        return e


# ---------------------------------------------------------------- scalar (tensor-free) subexpressions
def _tensor_free(e: N.Expr) -> bool:
    return not any(isinstance(n, (N.Access, N.Reduce)) for n in N.walk(e))


def _fold(e: N.Expr) -> Optional[float]:
    """The value of a constant expression (literals only), or None if it reads a parameter."""
    e = _strip_casts(e)
    if isinstance(e, N.Const):
        return float(e.value)
    if isinstance(e, N.Unary) and e.op == "-":
        v = _fold(e.operand)
        return None if v is None else -v
    if isinstance(e, N.Binary) and e.op in ("+", "-", "*", "/"):
        a, b = _fold(e.lhs), _fold(e.rhs)
        if a is None or b is None:
            return None
        with np.errstate(all="ignore"):
            return float({"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[e.op](
                np.float64(a), np.float64(b)))
    if isinstance(e, N.Call) and len(e.args) == 1 and e.fn in ("exp", "log", "sqrt", "abs", "sin", "cos", "tanh"):
        v = _fold(e.args[0])
        if v is None:
            return None
        with np.errstate(all="ignore"):
            return float(getattr(np, e.fn)(np.float64(v)))
    return None


@dataclass(frozen=True)
class _Scalar:
    """A scalar operand of a tile op: a folded literal or a scalar parameter (a runtime arg)."""
    cpp: str
    text: str


# ---------------------------------------------------------------- the tile-program generator
class _TileGen:
    def __init__(self, input_cb: Dict[str, int], scalar_names: Sequence[str], where: str):
        self.cb = input_cb
        self.scalar_names = list(scalar_names)
        self.used_scalars: List[str] = []
        self.ops: List[TileOp] = []
        self.where = where
        self.max_slot = 0
        self.rounding = 0

    # Registers needed to evaluate e (Sethi-Ullman).
    def need(self, e: N.Expr) -> int:
        e = _strip_casts(e)
        if isinstance(e, N.Access):
            return 1
        if isinstance(e, N.Unary):
            return self.need(e.operand)
        if isinstance(e, N.Call):
            tensor_args = [a for a in e.args if not _tensor_free(a)]
            return self.need(tensor_args[0])
        if isinstance(e, N.Binary):
            if _tensor_free(e.lhs):
                return self.need(e.rhs)
            if _tensor_free(e.rhs):
                return self.need(e.lhs)
            if self._fpu_pair(e):
                return 1
            l, r = self.need(e.lhs), self.need(e.rhs)
            return l + 1 if l == r else max(l, r)
        raise TTMetalError(f"ttmetal: `{_text(e)}` is not supported ({self.where})")

    def _fpu_pair(self, e: N.Binary) -> bool:
        lhs, rhs = _strip_casts(e.lhs), _strip_casts(e.rhs)
        return e.op in _FPU_BINARY and isinstance(lhs, N.Access) and isinstance(rhs, N.Access)

    def scalar(self, e: N.Expr) -> _Scalar:
        v = _fold(e)
        if v is not None:
            bits = f32_bits(v)
            return _Scalar(f"0x{bits:08x}u", str(np.float32(v)))
        s = _strip_casts(e)
        if isinstance(s, N.Name) and s.kind == "scalar":
            if s.name not in self.used_scalars:
                self.used_scalars.append(s.name)
            return _Scalar(f"scalar_{s.name}", s.name)
        raise TTMetalError(f"ttmetal: the scalar expression `{_text(e)}` is not supported; pass it as one "
                           f"scalar parameter ({self.where})")

    def emit(self, op: TileOp) -> None:
        self.ops.append(op)

    def unary(self, fn: str, d: int) -> None:
        init, call, hdr, steps = _UNARY[fn]
        self.rounding += steps
        self.emit(TileOp(call.format(d=d), init, "sfpu", hdr, f"{fn} DST[{d}]"))

    def scalar_op(self, key: str, d: int, s: _Scalar) -> None:
        self.rounding += 1
        self.emit(TileOp(f"{_SCALAR_OP[key]}({d}, {s.cpp});", "binop_with_scalar_tile_init();", "sfpu",
                         HDR_SCALAR, f"DST[{d}] {key} {s.text}"))

    def gen(self, e: N.Expr, d: int) -> None:
        """Emit ops leaving the value of e in DST[d]; slots above d are scratch."""
        self.max_slot = max(self.max_slot, d)
        e = _strip_casts(e)
        if isinstance(e, N.Access):
            self.emit(TileOp(f"copy_tile({cb_var(e.tensor)}, 0, {d});", f"copy_tile_init({cb_var(e.tensor)});", "fpu",
                             HDR_COPY, f"copy {e.tensor} -> DST[{d}]"))
            return
        if isinstance(e, N.Unary):  # '-'
            self.gen(e.operand, d)
            self.unary("neg", d)
            return
        if isinstance(e, N.Call):
            if e.fn == "max":  # max(x, 0)
                x = e.args[1] if _is_zero(e.args[0]) else e.args[0]
                if _tensor_free(x):
                    raise TTMetalError(f"ttmetal: `{_text(e)}` reads no tensor ({self.where})")
                self.gen(x, d)
                self.unary("relu", d)
                return
            if e.fn == "pow":
                self.gen(e.args[0], d)
                self.unary("square", d)
                return
            if e.fn not in _UNARY:
                raise TTMetalError(f"ttmetal: `{e.fn}` is not supported ({self.where})")
            self.gen(e.args[0], d)
            self.unary(e.fn, d)
            return
        if isinstance(e, N.Binary):
            lf, rf = _tensor_free(e.lhs), _tensor_free(e.rhs)
            if lf and rf:
                raise TTMetalError(f"ttmetal: `{_text(e)}` reads no tensor ({self.where})")
            if rf:  # x op c
                s = self.scalar(e.rhs)
                self.gen(e.lhs, d)
                self.scalar_op(e.op, d, s)
                return
            if lf:  # c op x
                s = self.scalar(e.lhs)
                self.gen(e.rhs, d)
                if e.op in ("+", "*"):
                    self.scalar_op(e.op, d, s)
                elif e.op == "-":
                    self.scalar_op("r-", d, s)
                else:  # c / x = c * (1/x)
                    self.unary("recip", d)
                    if s.cpp != f"0x{f32_bits(1.0):08x}u":
                        self.scalar_op("*", d, s)
                return
            if self._fpu_pair(e):
                a, b = _strip_casts(e.lhs), _strip_casts(e.rhs)
                fn, init = _FPU_BINARY[e.op]
                self.rounding += 1
                self.emit(TileOp(f"{fn}({cb_var(a.tensor)}, {cb_var(b.tensor)}, 0, 0, {d});",
                                 f"{init}({cb_var(a.tensor)}, {cb_var(b.tensor)});", "fpu", HDR_BINARY,
                                 f"{a.tensor} {e.op} {b.tensor} -> DST[{d}] (FPU)"))
                return
            # general: both sides computed in DST, combined on the SFPU
            if self.need(e.rhs) > self.need(e.lhs):
                self.gen(e.rhs, d)
                self.gen(e.lhs, d + 1)
                lhs_slot, rhs_slot = d + 1, d
            else:
                self.gen(e.lhs, d)
                self.gen(e.rhs, d + 1)
                lhs_slot, rhs_slot = d, d + 1
            self.max_slot = max(self.max_slot, d + 1)
            fn = _SFPU_BINARY[e.op]
            self.rounding += 2 if e.op == "/" else 1
            self.emit(TileOp(f"{fn}({lhs_slot}, {rhs_slot}, {d});", f"{fn}_init();", "sfpu", HDR_SFPU_BINARY,
                             f"DST[{lhs_slot}] {e.op} DST[{rhs_slot}] -> DST[{d}] (SFPU)"))
            return
        raise TTMetalError(f"ttmetal: `{_text(e)}` is not supported ({self.where})")


# ---------------------------------------------------------------- shape rules
def _check_tile_shape(name: str, shape: Tuple[int, ...], role: str) -> None:
    if len(shape) == 0:
        raise TTMetalError(f"ttmetal: 0-d tensors are not supported (`{name}`)")
    if len(shape) == 1:
        if shape[0] == 0 or shape[0] % TILE_ELEMS:
            raise TTMetalError(f"ttmetal: 1-D length {shape[0]} is not a multiple of {TILE_ELEMS} "
                               f"(one 32x32 tile) (`{name}`)")
        return
    if any(d == 0 for d in shape) or shape[-1] % TILE or shape[-2] % TILE:
        raise TTMetalError(f"ttmetal: shape {_shape_text(shape)} is not a multiple of the 32x32 tile "
                           f"({role} `{name}`)")


# ---------------------------------------------------------------- entry point
def plan_kernel(bound: BoundKernel) -> TTMetalPlan:
    """The lowering plan of `bound`, or TTMetalError naming what cannot be expressed."""
    ck = bound.checked
    if len(ck.outputs) != 1:
        raise TTMetalError(f"ttmetal: kernels with {len(ck.outputs)} outputs are not supported (one output only)")
    out = ck.outputs[0]
    for name, t in ck.tensors.items():
        if t.dtype not in FLOAT_DTYPES:
            raise TTMetalError(f"ttmetal: {t.dtype} tensors are not supported (`{name}`); the device computes "
                               "in bfloat16")
    for name, dt in ck.scalars.items():
        if dt not in FLOAT_DTYPES:
            raise TTMetalError(f"ttmetal: {dt} scalars are not supported (`{name}`); the device computes in "
                               "bfloat16")

    screen = _Screen(bound)
    defs: Dict[str, N.Stmt] = {}
    for s in ck.body:
        screen.stmt(s)
        if s.target in defs:
            raise TTMetalError(f"ttmetal: `{s.target}` is written by several statements (line {s.loc.line})")
        defs[s.target] = s
    if out.name not in defs:
        raise TTMetalError(f"ttmetal: the output `{out.name}` is never written")
    stmt = defs[out.name]
    others = {k: v for k, v in defs.items() if k != out.name}
    expr = _Inliner(others).expr(stmt.value, {})
    where = _where(stmt)
    out_shape = tuple(int(d) for d in bound.shapes[out.name])

    scalar_names = [p.name for p in ck.inputs if p.is_scalar]
    reduces = [n for n in N.walk(expr) if isinstance(n, N.Reduce)]
    if reduces:
        return _plan_matmul(bound, stmt, expr, reduces, out.name, out.dtype, out_shape, scalar_names, where)
    return _plan_eltwise(bound, stmt, expr, out.name, out.dtype, out_shape, scalar_names, where)


def _inputs_of(bound: BoundKernel, names: Sequence[str], tiled: bool) -> Tuple[InputTensor, ...]:
    if len(names) > MAX_INPUTS:
        raise TTMetalError(f"ttmetal: {len(names)} input tensors; at most {MAX_INPUTS} are supported")
    out = []
    for i, n in enumerate(names):
        shape = tuple(int(d) for d in bound.shapes[n])
        elems = int(np.prod(shape)) if shape else 1
        out.append(InputTensor(n, i, shape, elems // TILE_ELEMS, bound.dtype(n)))
    return tuple(out)


def _plan_eltwise(bound, stmt, expr, out_name, out_dtype, out_shape, scalar_names, where) -> TTMetalPlan:
    ck = bound.checked
    names: List[str] = []
    for a in N.walk(expr):
        if isinstance(a, N.Access):
            if ck.tensors[a.tensor].role != "input":
                raise TTMetalError(f"ttmetal: `{a.tensor}` is read before it is written ({where})")
            idx = tuple(i.name for i in a.indices)
            if idx != tuple(stmt.indices):
                target = f"{out_name}[{', '.join(stmt.indices)}]"
                if len(idx) != len(stmt.indices):
                    raise TTMetalError(f"ttmetal: `{_text(a)}` broadcasts over the output; elementwise operands "
                                       f"must be indexed exactly like the target `{target}` ({where})")
                raise TTMetalError(f"ttmetal: `{_text(a)}` is a transposed access; elementwise operands must be "
                                   f"indexed exactly like the target `{target}` ({where})")
            shape = tuple(int(d) for d in bound.shapes[a.tensor])
            if shape != out_shape:
                raise TTMetalError(f"ttmetal: `{a.tensor}` has shape {_shape_text(shape)} but the output "
                                   f"`{out_name}` has shape {_shape_text(out_shape)}; elementwise operands must "
                                   f"match ({where})")
            if a.tensor not in names:
                names.append(a.tensor)
    if not names:
        raise TTMetalError(f"ttmetal: `{out_name}` reads no tensor ({where})")
    _check_tile_shape(out_name, out_shape, "output")
    inputs = _inputs_of(bound, names, tiled=False)
    gen = _TileGen({i.name: i.cb for i in inputs}, scalar_names, where)
    need = gen.need(expr)
    if need > MAX_DST_TILES:
        raise TTMetalError(f"ttmetal: the expression needs {need} DST tiles at once; at most {MAX_DST_TILES} "
                           f"fit ({where})")
    gen.gen(expr, 0)
    ops = tuple(gen.ops)
    num_tiles = int(np.prod(out_shape)) // TILE_ELEMS
    scalars = tuple((n, ck.scalars[n]) for n in scalar_names if n in gen.used_scalars)
    return TTMetalPlan(
        kind="eltwise", kernel=ck.name, output=out_name, output_dtype=out_dtype, output_shape=out_shape,
        inputs=inputs, num_tiles=num_tiles, tiled=False, ops=ops, dst_tiles=gen.max_slot + 1, scalars=scalars,
        expression=_text(expr), n_ops=max(1, gen.rounding), reduction_length=1, fp32_dest_acc_en=False,
        headers=tuple(dict.fromkeys(o.header for o in ops)),
        notes=("operands stream as 1024-element pages of the row-major data (every operand has the same "
               "layout, so elementwise results do not depend on the in-tile order)",))


def _plan_matmul(bound, stmt, expr, reduces, out_name, out_dtype, out_shape, scalar_names, where) -> TTMetalPlan:
    ck = bound.checked
    form = "C[i, j] = sum(k) A[i, k] * B[k, j]"
    if len(reduces) != 1:
        raise TTMetalError(f"ttmetal: only one matmul per kernel is supported ({len(reduces)} reductions in "
                           f"`{out_name}` after inlining temporaries; {where})")
    red = reduces[0]
    if len(stmt.indices) != 2 or len(out_shape) != 2:
        raise TTMetalError(f"ttmetal: only 2-D matmul {form} is supported (batched or transposed operands are "
                           f"not; `{out_name}[{', '.join(stmt.indices)}]`, {where})")
    i_name, j_name = stmt.indices
    (k_var,) = red.vars
    fs = _factors(red.body)
    if len(fs) != 2 or not all(isinstance(f, N.Access) for f in fs):
        bad = next((f for f in fs if not isinstance(f, N.Access)), red.body)
        raise TTMetalError(f"ttmetal: matmul operands must be input tensors read directly (`{_text(bad)}` is "
                           f"not; {where})")
    A = B = None
    for f in fs:
        idx = tuple(i.name for i in f.indices) if _is_bare(f) else None
        if idx == (i_name, k_var.name):
            A = f
        elif idx == (k_var.name, j_name):
            B = f
    if A is None or B is None or A is B:
        raise TTMetalError(f"ttmetal: only the matmul form {form} is supported (got `{_text(red)}`; transposed "
                           f"or batched operands are not; {where})")
    for f in (A, B):
        if ck.tensors[f.tensor].role != "input":
            raise TTMetalError(f"ttmetal: matmul operands must be input tensors (`{f.tensor}` is computed; "
                               f"{where})")
    a_shape = tuple(int(d) for d in bound.shapes[A.tensor])
    b_shape = tuple(int(d) for d in bound.shapes[B.tensor])
    lo, hi = bound.range_of(k_var) if k_var.hi is not None else (0, a_shape[1])
    if len(a_shape) != 2 or len(b_shape) != 2:
        raise TTMetalError(f"ttmetal: matmul operands must be 2-D ({where})")
    M, K = a_shape
    K2, Nn = b_shape
    if (lo, hi) != (0, K) or K != K2 or (M, Nn) != out_shape:
        raise TTMetalError(f"ttmetal: the matmul must sum over the whole shared dimension: A is "
                           f"{_shape_text(a_shape)}, B {_shape_text(b_shape)}, C {_shape_text(out_shape)}, k in "
                           f"{lo}..{hi} ({where})")
    for name, shape, role in ((A.tensor, a_shape, "input"), (B.tensor, b_shape, "input"),
                              (out_name, out_shape, "output")):
        _check_tile_shape(name, shape, role)

    # The epilogue: unary/scalar operations applied to the matmul result in DST[0].
    gen = _TileGen({}, scalar_names, where)
    ops = _epilogue(gen, expr, red)
    inputs = _inputs_of(bound, [A.tensor, B.tensor], tiled=True)
    scalars = tuple((n, ck.scalars[n]) for n in scalar_names if n in gen.used_scalars)
    Mt, Kt, Nt = M // TILE, K // TILE, Nn // TILE
    headers = (HDR_MATMUL,) + tuple(dict.fromkeys(o.header for o in ops))
    return TTMetalPlan(
        kind="matmul", kernel=ck.name, output=out_name, output_dtype=out_dtype, output_shape=out_shape,
        inputs=inputs, num_tiles=Mt * Nt, tiled=True, ops=tuple(ops), dst_tiles=1, scalars=scalars,
        expression=_text(expr), n_ops=1 + gen.rounding, reduction_length=K, fp32_dest_acc_en=True,
        Mt=Mt, Kt=Kt, Nt=Nt, headers=tuple(dict.fromkeys(headers)),
        notes=("A and B are tilized on the host (32x32 tiles of four 16x16 faces); C is untilized",
               "each output tile accumulates Kt matmul_tiles calls in DST (fp32 accumulation)"))


def _epilogue(gen: _TileGen, e: N.Expr, red: N.Reduce) -> List[TileOp]:
    """Ops applying e's wrapping around `red` to DST[0], innermost first."""
    chain: List[Tuple[str, object]] = []
    node = e
    while True:
        node = _strip_casts(node)
        if node is red or node == red:
            break
        if isinstance(node, N.Unary) and node.op == "-":
            chain.append(("unary", "neg"))
            node = node.operand
        elif isinstance(node, N.Call) and node.fn in _UNARY:
            chain.append(("unary", node.fn))
            node = node.args[0]
        elif isinstance(node, N.Call) and node.fn == "max" and _relu_form(node):
            chain.append(("unary", "relu"))
            node = node.args[1] if _is_zero(node.args[0]) else node.args[0]
        elif isinstance(node, N.Call) and node.fn == "pow" and _square_form(node):
            chain.append(("unary", "square"))
            node = node.args[0]
        elif isinstance(node, N.Binary) and _tensor_free(node.rhs):
            chain.append(("scalar", (node.op, gen.scalar(node.rhs))))
            node = node.lhs
        elif isinstance(node, N.Binary) and _tensor_free(node.lhs):
            key = {"+": "+", "*": "*", "-": "r-", "/": "r/"}[node.op]
            chain.append(("scalar", (key, gen.scalar(node.lhs))))
            node = node.rhs
        else:
            raise TTMetalError(f"ttmetal: a matmul can only be followed by unary and scalar operations "
                               f"(`{_text(node)}` combines the matmul with other tensors; {gen.where})")
    for kind, what in reversed(chain):
        if kind == "unary":
            gen.unary(what, 0)
        else:
            key, s = what
            if key == "r/":
                gen.unary("recip", 0)
                gen.scalar_op("*", 0, s)
            else:
                gen.scalar_op(key, 0, s)
    return list(gen.ops)
