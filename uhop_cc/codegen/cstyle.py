"""The C-style renderer shared by OpenCL and CUDA.

Dialects subclass `CStyleRenderer` and override a handful of strings and hooks
(qualifiers, thread index, half loads/stores, launch annotation, math names).

The generic lowering handles every valid program: each statement becomes one
kernel (a *stage*) in which one work-item computes one element of the target;
reductions become loops, `select` becomes a lazy conditional, temporaries are
global scratch buffers passed after the outputs, and work-items past the end
return early. Sizes are kernel arguments, so one source serves every shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Union

from ..ir import nodes as N
from ..ir.typed import C_TYPE, CheckedKernel

from ..ir.reserved import RESERVED

IDENTITY = {"sum": "0", "prod": "1"}
CHAIN = {"+": 0, "-": 0, "*": 1, "/": 1}  # left-associative operators, by precedence level
CHAIN_RUN = 128  # operands of one flat run before `chain` stores a partial result
MAX_BRACKETS = 48  # bracket depth of one C expression before `value` names it (the analyzer allows 256)


def bracket_depth(text: str) -> int:
    """The deepest nesting of ( and [ in `text`."""
    depth = top = 0
    for ch in text:
        if ch in "([":
            depth += 1
            top = max(top, depth)
        elif ch in ")]":
            depth -= 1
    return top


def c_name(name: str) -> str:
    """A user identifier made safe for C: reserved words and our `_u` prefix get a trailing underscore."""
    if name in RESERVED or name.startswith("_u"):
        return name + "_"
    return name


def uses_dtype(ck: CheckedKernel, dtype: str) -> bool:
    """Whether any tensor, scalar or typed sub-expression of the kernel has `dtype`."""
    if any(t.dtype == dtype for t in ck.tensors.values()) or dtype in ck.scalars.values():
        return True
    return any(getattr(n, "dtype", None) == dtype for s in ck.body for n in N.walk(s.value))


@dataclass(frozen=True)
class GeneratedKernel:
    """Kernel source plus what the toolchain needs to know about how it was made."""
    target: str
    source: str
    entry: str
    strategy: str  # 'generic' or a template name
    params: Dict[str, object] = field(default_factory=dict)
    file_name: str = "kernel.cl"
    # A multi-file candidate (a TT-Metal project: host program, one kernel per role, CMake, golden
    # data): path relative to the output folder -> content. `source` stays what the analyzer reads;
    # the device's build and the write stage take these files instead of `file_name`.
    files: Dict[str, Union[str, bytes]] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"target": self.target, "entry": self.entry, "strategy": self.strategy, "params": dict(self.params),
               "file": self.file_name}
        if self.files:
            out["files"] = sorted(self.files)
        return out


class ExpressionEmitter:
    """Compiles typed expressions to C: returns a value string, appends statements to `out`."""

    def __init__(self, r: "CStyleRenderer", ck: CheckedKernel):
        self.r, self.ck = r, ck
        self.counter = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"_u{stem}{self.counter}"

    def int_expr(self, e: N.Expr) -> str:
        """Integer expressions (dims, indices, ranges), fully parenthesised."""
        if isinstance(e, N.Const):
            return str(int(e.value))
        if isinstance(e, N.Name):
            return c_name(e.name)
        if isinstance(e, N.Unary) and e.op == "-":
            return f"(-{self.int_expr(e.operand)})"
        if isinstance(e, N.Call) and e.fn == "i32":
            return self.int_expr(e.args[0])
        if isinstance(e, N.Binary):
            return f"({self.int_expr(e.lhs)} {e.op} {self.int_expr(e.rhs)})"
        raise TypeError(f"not an integer expression: {e!r}")

    def flat_index(self, tensor: str, indices) -> str:
        shape = self.ck.tensors[tensor].shape
        if not indices:
            return "0"
        text = self.int_expr(indices[0])
        for k, (idx, dim) in enumerate(zip(indices[1:], shape[1:])):
            text = f"{text if k == 0 else f'({text})'} * {self.int_expr(dim)} + {self.int_expr(idx)}"
        return text

    def value(self, e: N.Expr, out: List[str], ind: str) -> str:
        """C text of `e`; statements it needs (loops, branches, partial results) go to `out`."""
        text = self.expression(e, out, ind)
        if isinstance(e, (N.Unary, N.Binary, N.Call)) and bracket_depth(text) > MAX_BRACKETS:
            # deeply nested calls (150 nested sigmoids) would nest brackets past the analyzer's
            # limit: the value is named instead, which changes nothing about its rounding
            t = self.fresh("v")
            out.append(f"{ind}const {self.partial_ctype(e)} {t} = {text};")
            return t
        return text

    def expression(self, e: N.Expr, out: List[str], ind: str) -> str:
        r = self.r
        if isinstance(e, N.Const):
            return r.literal(e.value, e.dtype)
        if isinstance(e, N.Name):
            return c_name(e.name)
        if isinstance(e, N.Access):
            return r.load(c_name(e.tensor), self.flat_index(e.tensor, e.indices), self.ck.tensors[e.tensor].dtype)
        if isinstance(e, N.Unary):
            if isinstance(e.operand, N.Const) and e.operand.dtype is None and e.dtype == "i32":
                x = r.literal(e.operand.value, "i32")  # a weak literal takes its context's type
            else:
                x = self.value(e.operand, out, ind)
            return f"(!{x})" if e.op == "not" else f"(-{x})"
        if isinstance(e, N.Binary):
            return self.binary(e, out, ind)
        if isinstance(e, N.Call):
            return self.call(e, out, ind)
        if isinstance(e, N.Reduce):
            return self.reduce(e, out, ind)
        raise TypeError(e)

    def binary(self, e: N.Binary, out: List[str], ind: str) -> str:
        if e.op in ("and", "or"):
            # short-circuit like select: the right side runs only when needed
            b_out: List[str] = []
            a = self.value(e.lhs, out, ind)
            b = self.value(e.rhs, b_out, ind + "    ")
            if not b_out:
                return f"({a} {'&&' if e.op == 'and' else '||'} {b})"
            v = self.fresh("b")
            out.append(f"{ind}int {v} = {a};")
            out.append(f"{ind}if ({'' if e.op == 'and' else '!'}{v}) {{")
            out.extend(b_out)
            out.append(f"{ind}    {v} = {b};")
            out.append(f"{ind}}}")
            return v
        if e.op in CHAIN:
            return self.chain(e, out, ind)
        a = self.value(e.lhs, out, ind)
        b = self.value(e.rhs, out, ind)
        if e.op == "%" and e.lhs.dtype in ("f16", "f32", "f64"):
            return f"fmod({a}, {b})"
        return f"({a} {e.op} {b})"

    def chain(self, e: N.Binary, out: List[str], ind: str) -> str:
        """A left-leaning run of operators of one precedence (`a + b - c + ...`) as one flat C
        expression: C groups it from the left exactly as the IR does, so no parentheses are needed,
        and a 300-term sum neither nests 300 brackets deep (past the analyzer's limit) nor recurses
        300 calls deep here. Operands are emitted left to right, as before."""
        spine: List[N.Binary] = []
        x: N.Expr = e
        while isinstance(x, N.Binary) and CHAIN.get(x.op) == CHAIN[e.op]:
            spine.append(x)
            x = x.lhs
        parts = [self.value(x, out, ind)]
        for k, node in enumerate(reversed(spine), 1):
            parts.append(f"{node.op} {self.value(node.rhs, out, ind)}")
            if k % CHAIN_RUN == 0 and k < len(spine):
                # a very long run is cut into partial results, so no kernel expression is deeper than
                # the analyzer's nesting limit; `((a + b) + c)` rounds the same as `t = a + b; t + c`
                t = self.fresh("p")
                out.append(f"{ind}const {self.partial_ctype(node)} {t} = ({' '.join(parts)});")
                parts = [t]
        return "(" + " ".join(parts) + ")"

    def partial_ctype(self, e: N.Expr) -> str:
        """The C type of a partial result of `chain` (templates evaluating on vectors override it)."""
        return self.r.ctype(e.dtype)

    def call(self, e: N.Call, out: List[str], ind: str) -> str:
        r = self.r
        if e.fn == "select":
            c = self.value(e.args[0], out, ind)
            a_out: List[str] = []
            b_out: List[str] = []
            a = self.value(e.args[1], a_out, ind + "    ")
            b = self.value(e.args[2], b_out, ind + "    ")
            if not a_out and not b_out:
                return f"({c} ? {a} : {b})"
            v = self.fresh("s")
            out.append(f"{ind}{r.ctype(e.dtype)} {v};")
            out.append(f"{ind}if ({c}) {{")
            out.extend(a_out)
            out.append(f"{ind}    {v} = {a};")
            out.append(f"{ind}}} else {{")
            out.extend(b_out)
            out.append(f"{ind}    {v} = {b};")
            out.append(f"{ind}}}")
            return v
        args = [self.value(a, out, ind) for a in e.args]
        if e.fn in ("f32", "f16", "f64", "i32"):
            return f"(({r.ctype(e.fn)})({args[0]}))"
        if e.dtype == "i32":  # an integer call keeps integer operands (`relu(5)` is `max(5, 0)`, not `max(5.0f, 0)`)
            args = [r.literal(a.value, "i32") if isinstance(a, N.Const) and float(a.value).is_integer()
                    else f"((int)({t}))" if a.dtype in ("f16", "f32", "f64", None) else t
                    for a, t in zip(e.args, args)]
        return r.math(e.fn, e.dtype, args)

    def reduce(self, e: N.Reduce, out: List[str], ind: str) -> str:
        r = self.r
        acc = self.fresh("acc")
        out.append(f"{ind}{r.ctype(e.dtype)} {acc} = {r.identity(e.op, e.dtype)};")
        inner = ind
        for v in e.vars:
            name = c_name(v.name)
            out.append(f"{inner}for ({r.index_ctype} {name} = {self.int_expr(v.lo)}; {name} < {self.int_expr(v.hi)}; "
                       f"++{name}) {{")
            inner += "    "
        body: List[str] = []
        val = self.value(e.body, body, inner)
        out.extend(body)
        out.append(f"{inner}{r.combine(e.op, e.dtype, acc, val)}")
        for _ in e.vars:
            inner = inner[:-4]
            out.append(f"{inner}}}")
        return acc


class CStyleRenderer:
    target = "c"
    file_name = "kernel.c"
    kernel_qualifier = "void"
    global_ptr = ""
    const_ptr = "const"
    restrict = "restrict"
    block = 128
    wide_index_ctype = "long"  # the dialect's 64-bit integer

    def __init__(self, index_bits: int = 32):
        """`index_bits` 64 makes every index, loop variable and size argument 64-bit (see
        lower/indexing.py: chosen per shape, so shapes that fit `int` keep 32-bit arithmetic)."""
        if index_bits not in (32, 64):
            raise ValueError(f"index_bits must be 32 or 64, not {index_bits!r}")
        self.index_bits = index_bits

    @property
    def index_ctype(self) -> str:
        """The C type of indices, loop variables and size arguments."""
        return self.wide_index_ctype if self.index_bits == 64 else "int"

    # ---- dialect hooks
    def preamble(self, ck: CheckedKernel) -> str:
        return ""

    def thread_index(self) -> str:
        raise NotImplementedError

    def launch_annotation(self, total: str, block: int) -> str:
        raise NotImplementedError

    def ctype(self, dtype: str) -> str:
        return {"f32": "float", "f64": "double", "f16": "float", "i32": "int", "bool": "int"}[dtype]

    def storage_type(self, dtype: str) -> str:
        return {"f32": "float", "f64": "double", "f16": "half", "i32": "int"}[dtype]

    def load(self, ptr: str, index: str, dtype: str) -> str:
        return f"{ptr}[{index}]"

    def store(self, ptr: str, index: str, value: str, dtype: str) -> str:
        return f"{ptr}[{index}] = {value};"

    def literal(self, value, dtype: str) -> str:
        if dtype in ("i32", "bool"):
            return str(int(value))
        text = repr(float(value))
        if "e" not in text and "." not in text:
            text += ".0"
        return text + ("" if dtype == "f64" else "f")

    def math(self, fn: str, dtype: str, args: List[str]) -> str:
        flt = dtype in ("f16", "f32", "f64")
        one = self.literal(1.0, dtype) if flt else "1"
        zero = self.literal(0.0, dtype) if flt else "0"
        if fn == "sigmoid":
            return f"({one} / ({one} + exp(-{args[0]})))"
        if fn == "relu":
            return f"fmax({args[0]}, {zero})" if flt else f"max({args[0]}, 0)"
        if fn == "abs":
            return f"fabs({args[0]})" if flt else f"((int)abs({args[0]}))"  # OpenCL's abs(int) is uint
        if fn in ("min", "max"):
            return f"f{fn}({args[0]}, {args[1]})" if flt else f"{fn}({args[0]}, {args[1]})"
        return f"{fn}({', '.join(args)})"

    def identity(self, op: str, dtype: str) -> str:
        flt = dtype in ("f16", "f32", "f64")
        if op in IDENTITY:
            return self.literal(float(IDENTITY[op]), dtype) if flt else IDENTITY[op]
        if flt:
            return "-INFINITY" if op == "max" else "INFINITY"
        return "INT_MIN" if op == "max" else "INT_MAX"

    def combine(self, op: str, dtype: str, acc: str, val: str) -> str:
        if op == "sum":
            return f"{acc} += {val};"
        if op == "prod":
            return f"{acc} *= {val};"
        return f"{acc} = {self.math(op, dtype, [acc, val])};"

    def abi_decl(self, arg) -> str:
        """The C type of one ABI argument (`arg`: name, kind, dtype; see lower/spec.py AbiArg) as prompts
        and the analyzer's messages show it: the dialect's pointer qualifier, the ABI's element type names
        (f16 is `half` in every dialect: the analyzer also accepts the storage types the renderers use)."""
        if arg.kind == "size":
            return "const long" if arg.dtype == "i64" else "const int"
        c = C_TYPE.get(arg.dtype, "float")
        if arg.kind == "scalar":
            return f"const {c}"
        g = f"{self.global_ptr} " if self.global_ptr else ""
        return f"{g}const {c}*" if arg.kind == "input" else f"{g}{c}*"  # outputs and temporaries

    # ---- the generic lowering
    def signature(self, ck: CheckedKernel, name: str, with_temps: bool = True) -> str:
        args = []
        for p in ck.inputs:
            if p.is_scalar:
                args.append(f"const {self.ctype(p.dtype)} {c_name(p.name)}")
            else:
                args.append(f"{self.global_ptr} const {self.storage_type(p.dtype)}* {self.restrict} {c_name(p.name)}")
        for p in ck.outputs:
            args.append(f"{self.global_ptr} {self.storage_type(p.dtype)}* {self.restrict} {c_name(p.name)}")
        if with_temps:
            for t in ck.temps():
                args.append(f"{self.global_ptr} {self.storage_type(t.dtype)}* {self.restrict} {c_name(t.name)}")
        args.extend(f"const {self.index_ctype} {c_name(s)}" for s in ck.sizes)
        return f"{self.kernel_qualifier} {name}(" + ",\n    ".join(a.strip() for a in args) + ")"

    def stage_names(self, ck: CheckedKernel) -> List[str]:
        names = [f"{ck.name}__{s.target}" for s in ck.body]
        names[-1] = c_name(ck.name)
        return names

    def total_elements(self, em: ExpressionEmitter, shape) -> str:
        if not shape:
            return "1"
        return " * ".join(em.int_expr(d) for d in shape)

    def stage(self, ck: CheckedKernel, s: N.Stmt, name: str) -> str:
        em = ExpressionEmitter(self, ck)
        info = ck.tensors[s.target]
        total = self.total_elements(em, info.shape)
        lines = [self.launch_annotation(total, self.block), self.signature(ck, name) + "\n{"]
        ind = "    "
        lines.append(f"{ind}const {self.index_ctype} _ugid = {self.thread_index()};")
        lines.append(f"{ind}if (_ugid >= {total}) return;")
        if info.shape:
            rest = "_ugid"
            for k in range(len(info.shape) - 1, -1, -1):
                v = c_name(s.indices[k])
                if k == 0:
                    lines.append(f"{ind}const {self.index_ctype} {v} = {rest};")
                else:
                    dim = em.int_expr(info.shape[k])
                    lines.append(f"{ind}const {self.index_ctype} {v} = {rest} % {dim};")
                    rest = f"{rest} / {dim}" if rest == "_ugid" else f"({rest}) / {dim}"
        body: List[str] = []
        val = em.value(s.value, body, ind)
        lines.extend(body)
        lines.append(ind + self.store(c_name(s.target), "_ugid", val, info.dtype))
        lines.append("}")
        return "\n".join(lines)

    def generic(self, ck: CheckedKernel) -> GeneratedKernel:
        parts = [f"// {ck.name}: generated by uhopc (generic lowering, one stage per statement)"]
        pre = self.preamble(ck)
        if pre:
            parts.append(pre)
        for s, name in zip(ck.body, self.stage_names(ck)):
            parts.append(self.stage(ck, s, name))
        params = {"block": self.block}
        if self.index_bits == 64:
            params["index_bits"] = 64
        return GeneratedKernel(self.target, "\n\n".join(parts) + "\n", c_name(ck.name), "generic", params,
                               self.file_name)
