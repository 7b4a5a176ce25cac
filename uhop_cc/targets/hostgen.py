"""C++ host-project helpers every target's emitter shares: identifiers and string literals in
C++, @launch expressions as C++ over the size constants, the tensor table rows and per-output
reduction lengths (for the emitted tolerance check)."""
from __future__ import annotations

import math
from typing import Dict, List, Mapping

from ..codegen import golden
from ..codegen.cstyle import c_name
from ..codegen.launch import LaunchError, Node
from ..ir import nodes as N
from ..ir.typed import BoundKernel
from ..verify.tolerance import reduction_length

DTYPE_ENUM = {"f32": "DType::F32", "f64": "DType::F64", "f16": "DType::F16", "i32": "DType::I32"}
INT32_MAX = 2 ** 31 - 1

__all__ = ["ident", "cstr", "cpp_double", "cpp_launch_expr", "size_symbols", "tensor_rows", "DTYPE_ENUM", "output_reduction_lengths"]

_CPP_KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class
compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype
default delete do double dynamic_cast else enum explicit export extern false float for friend goto if inline
int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public
register reinterpret_cast requires return short signed sizeof static static_assert static_cast struct switch
template this thread_local throw true try typedef typeid typename union unsigned using virtual void volatile
wchar_t while xor xor_eq main NULL
""".split())


def ident(name: str) -> str:
    """A UIR identifier as a C++ identifier (inside our own namespaces)."""
    return name + "_" if name in _CPP_KEYWORDS or name.startswith("__") else name


def tensor_rows(spec, tolerances):
    """The host table of tensors (inputs, outputs, temporaries) and each tensor's row in it.

    Shared by the OpenCL and CUDA host emitters: outputs carry their golden file and tolerance."""
    index: Dict[str, int] = {}
    rows = []
    for role, specs in (("Input", spec.inputs), ("Output", spec.outputs), ("Temp", spec.temps)):
        for t in specs:
            index[t.name] = len(rows)
            shape = "{" + ", ".join(str(int(d)) for d in t.shape) + "}"
            if role == "Input":
                file, rtol, atol = golden.input_file(t.name), 0.0, 0.0
            elif role == "Output":
                file = golden.golden_file(t.name)
                rtol, atol = tolerances[t.name].rtol, tolerances[t.name].atol
            else:
                file, rtol, atol = "", 0.0, 0.0
            rows.append(f"    {{{cstr(t.name)}, Role::{role}, {DTYPE_ENUM[t.dtype]}, {shape}, {cstr(file)}, "
                        f"{cpp_double(rtol)}, {cpp_double(atol)}}},")
    return index, rows


def cstr(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append("?")
    return '"' + "".join(out) + '"'


def cpp_double(x: float) -> str:
    """A C++ double literal that reads back exactly."""
    if math.isnan(x):
        return "std::numeric_limits<double>::quiet_NaN()"
    if math.isinf(x):
        return ("" if x > 0 else "-") + "std::numeric_limits<double>::infinity()"
    return repr(float(x))


# ---------------------------------------------------------------- @launch trees -> C++
_PREC = {"+": 1, "-": 1, "*": 2, "/": 3}


def cpp_launch_expr(node: Node, symbols: Mapping[str, str]) -> str:
    """A parsed @launch expression as C++ over the size constants (`symbols`: name -> C++).

    `/` is floor division (`floordiv`), `cdiv` and `roundup` are the host's inline functions:
    the same integer semantics as `launch.evaluate`."""

    def go(n: Node, parent: int, right: bool) -> str:
        if isinstance(n, bool):
            raise LaunchError(f"not a @launch expression: {n!r}")
        if isinstance(n, int):
            text = str(n) if abs(n) <= INT32_MAX else f"{n}LL"
            return f"({text})" if n < 0 else text
        if isinstance(n, str):
            if n not in symbols:
                raise LaunchError(f"@launch uses `{n}`, which is not a size symbol "
                                  f"(sizes: {', '.join(sorted(symbols)) or 'none'})")
            return symbols[n]
        op, a, b = n
        if op in ("cdiv", "roundup"):
            return f"{op}({go(a, 0, False)}, {go(b, 0, False)})"
        if op == "/":
            return f"floordiv({go(a, 0, False)}, {go(b, 0, False)})"
        if op == "-" and a == 0 and not isinstance(a, bool):
            return f"-{go(b, 3, True)}" if parent < 3 else f"(-{go(b, 3, True)})"
        if op not in _PREC:
            raise LaunchError(f"unknown @launch operator {op!r}")
        p = _PREC[op]
        text = f"{go(a, p, False)} {op} {go(b, p, True)}"
        return f"({text})" if p < parent or (right and p == parent) else text

    return go(node, 0, False)


def size_symbols(bound: BoundKernel) -> Dict[str, str]:
    out = {}
    for s in bound.checked.sizes:
        out[s] = f"sizes::{ident(s)}"
        out.setdefault(c_name(s), f"sizes::{ident(s)}")  # the generic lowering writes sizes as C names
    return out


# ---------------------------------------------------------------- tolerances
class _Statements:
    """A bound kernel seen through a subset of its statements (for `reduction_length`)."""

    def __init__(self, bound: BoundKernel, body):
        self.checked = type("_Body", (), {"body": tuple(body)})()
        self.range_of = bound.range_of


def output_reduction_lengths(bound: BoundKernel) -> Dict[str, int]:
    """Per output, the longest reduction among the statements it depends on (itself, and the
    statements that computed any tensor it reads, transitively): `verify.tolerance`'s rule
    applied to that output's slice of the kernel, so an elementwise output next to a long
    reduction keeps a tight tolerance."""
    body = bound.checked.body
    writers: Dict[str, List[int]] = {}
    for i, s in enumerate(body):
        writers.setdefault(s.target, []).append(i)
    out = {}
    for p in bound.checked.outputs:
        seen, todo = set(), list(writers.get(p.name, ()))
        while todo:
            i = todo.pop()
            if i in seen:
                continue
            seen.add(i)
            for n in N.walk(body[i].value):
                if isinstance(n, N.Access):
                    todo.extend(j for j in writers.get(n.tensor, ()) if j < i)
        out[p.name] = reduction_length(_Statements(bound, [body[i] for i in sorted(seen)])) if seen else 1
    return out


