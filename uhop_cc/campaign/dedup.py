"""Duplicate detection: canonical forms of UIR programs and of kernel sources, and their hashes.

`normalize_uir` prints a program with every user name replaced by a canonical one (kernel `k`,
tensors `T0..`, scalars `s0..`, size symbols `S0..`, temporaries `V0..`, index variables `i0..`
per statement, reduction variables `r0..`) in order of first appearance, so two programs that
differ only in names, comments or layout print the same text. `normalize_kernel_source` strips
comments and layout from C-like kernel source and renames every identifier the source itself
declares (kernels, helpers, parameters, locals) in order of appearance; keywords, types,
built-ins and `@launch` geometry are kept, since they change what the kernel does.

Keys (`uir_key`, `kernel_key`) are sha256 hex digests; with `sizes`, the size binding (under the
same renaming) is part of the key, so one program at two shapes is two records.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Dict, Iterable, List, Mapping, Optional, Set, Tuple, Union

from ..ir import nodes as N
from ..ir import printer
from ..ir.reserved import RESERVED

__all__ = ["normalize_uir", "uir_key", "normalize_kernel_source", "kernel_key", "top_level_functions",
           "strip_comments", "SeenSet"]


# ------------------------------------------------------------------ UIR
def _program_of(p) -> N.Program:
    if isinstance(p, N.Program):
        return p
    if isinstance(p, N.Kernel):
        return N.Program((p,))
    if isinstance(p, (str, bytes)):
        from ..ir.parser import parse
        return parse(p)
    prog = getattr(p, "program", None)  # GeneratedProgram
    if isinstance(prog, N.Program):
        return prog
    checked = getattr(p, "checked", p)  # BoundKernel -> CheckedKernel
    kernel = getattr(checked, "kernel", None)
    if isinstance(kernel, N.Kernel):
        return N.Program((kernel,))
    raise TypeError(f"cannot normalise {type(p).__name__}")


class _Renamer:
    def __init__(self, k: N.Kernel):
        self.global_map: Dict[str, str] = {}
        counts = {"T": 0, "s": 0, "S": 0, "V": 0}

        def new(prefix: str) -> str:
            n = f"{prefix}{counts[prefix]}"
            counts[prefix] += 1
            return n

        for p in k.inputs + k.outputs:
            for d in p.shape or ():
                for node in N.walk(d):
                    if isinstance(node, N.Name) and node.name not in self.global_map:
                        self.global_map[node.name] = new("S")
        for p in k.inputs + k.outputs:
            if p.name not in self.global_map:
                self.global_map[p.name] = new("s" if p.shape is None else "T")
        for s in k.body:
            if s.target not in self.global_map:
                self.global_map[s.target] = new("V")
        self.sizes = {n: m for n, m in self.global_map.items() if m.startswith("S")}

    def kernel(self, k: N.Kernel) -> N.Kernel:
        g = self.global_map
        inputs = tuple(self.param(p) for p in k.inputs)
        outputs = tuple(self.param(p) for p in k.outputs)
        body = []
        for s in k.body:
            env = {v: f"i{n}" for n, v in enumerate(s.indices)}
            counter = [0]
            value = self.expr(s.value, env, counter)
            body.append(N.Stmt(g[s.target], tuple(env[v] for v in s.indices), value))
        return N.Kernel("k", inputs, outputs, tuple(body))

    def param(self, p: N.Param) -> N.Param:
        shape = None if p.shape is None else tuple(self.expr(d, {}, [0]) for d in p.shape)
        return N.Param(self.global_map[p.name], p.dtype, shape)

    def name(self, n: str, env: Mapping[str, str]) -> str:
        if n in env:
            return env[n]
        return self.global_map.get(n, n)

    def expr(self, e: N.Expr, env: Dict[str, str], counter: List[int]) -> N.Expr:
        if isinstance(e, N.Const):
            return N.Const(e.value, e.is_float)
        if isinstance(e, N.Name):
            return N.Name(self.name(e.name, env))
        if isinstance(e, N.Access):
            return N.Access(self.global_map.get(e.tensor, e.tensor),
                            tuple(self.expr(i, env, counter) for i in e.indices))
        if isinstance(e, N.Unary):
            return N.Unary(e.op, self.expr(e.operand, env, counter))
        if isinstance(e, N.Binary):
            return N.Binary(e.op, self.expr(e.lhs, env, counter), self.expr(e.rhs, env, counter))
        if isinstance(e, N.Call):
            return N.Call(e.fn, tuple(self.expr(a, env, counter) for a in e.args))
        if isinstance(e, N.Reduce):
            inner = dict(env)
            vs = []
            for v in e.vars:
                lo = None if v.lo is None else self.expr(v.lo, env, counter)
                hi = None if v.hi is None else self.expr(v.hi, env, counter)
                inner[v.name] = f"r{counter[0]}"
                counter[0] += 1
                vs.append(N.RVar(inner[v.name], lo, hi))
            return N.Reduce(e.op, tuple(vs), self.expr(e.body, inner, counter))
        raise TypeError(e)


def normalize_uir(program, sizes: Optional[Mapping[str, int]] = None) -> Union[str, Tuple[str, Dict[str, int]]]:
    """Canonical text of a program's (first) kernel: a str, or (text, renamed sizes) with `sizes`.

    `program`: UIR text, a nodes.Program/Kernel, a GeneratedProgram, a CheckedKernel or a BoundKernel."""
    prog = _program_of(program)
    texts = []
    renamed_sizes: Dict[str, int] = {}
    for k in prog.kernels[:1] if sizes is not None else prog.kernels:
        r = _Renamer(k)
        texts.append(printer.kernel(r.kernel(k)))
        if sizes is not None:
            renamed_sizes = {r.sizes.get(s, s): int(v) for s, v in sizes.items() if s in r.sizes}
    text = "\n\n".join(texts) + "\n"
    if sizes is None:
        return text
    return text, dict(sorted(renamed_sizes.items()))


def uir_key(program, sizes: Optional[Mapping[str, int]] = None, extra: str = "") -> str:
    """sha256 of the canonical UIR (and of the size binding when given, and `extra`: e.g. the target)."""
    if sizes is None:
        text = normalize_uir(program)
        blob = text
    else:
        text, ren = normalize_uir(program, sizes)
        blob = text + json.dumps(ren, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((blob + "\x00" + extra).encode()).hexdigest()


# ------------------------------------------------------------------ kernel sources
_BRACE = re.compile(r"[{};]")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_LAUNCH = re.compile(r"//[ \t]*@launch\b([^\n]*)")
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+\.\d*(?:[eE][+-]?\d+)?[fFhH]?|\.\d+(?:[eE][+-]?\d+)?[fFhH]?|"
                    r"\d+(?:[eE][+-]?\d+)?[uUlLfFhH]*|0[xX][0-9a-fA-F]+[uUlL]*|"
                    r"<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=|\S")
_DECL_TYPES = RESERVED | {"__kernel", "__global", "__local", "__constant", "__private", "__attribute__",
                          "__global__", "__device__", "__shared__", "__host__", "__restrict__", "__forceinline__",
                          "inline", "static", "extern", "restrict", "const", "volatile", "unsigned", "signed",
                          "void", "float", "double", "half", "int", "uint", "long", "ulong", "short", "ushort",
                          "char", "uchar", "bool", "size_t"}
_BUILTIN_PREFIX = re.compile(r"^(get_|vload|vstore|convert_|as_|atomic|atom_|native_|half_|sub_group|"
                             r"work_group|mem_fence|read_mem_fence|write_mem_fence|barrier|CLK_|__|"
                             r"(float|double|half|int|uint|long|ulong|short|ushort|char|uchar)\d+$|"
                             r"threadIdx|blockIdx|blockDim|gridDim|warpSize|cuda|__sync|"
                             r"reqd_work_group_size|launch_bounds|fma|mad|clamp|mix|select|M_|FLT_|DBL_|INT_|"
                             r"HALF_|MAXFLOAT|INFINITY|NAN)")


def strip_comments(source: str) -> str:
    return _COMMENT.sub(" ", source)


def top_level_functions(source: str) -> List[str]:
    """Names of the functions defined at file scope (kernels and helpers), in source order."""
    code = strip_comments(source)
    names: List[str] = []
    depth = 0
    start = 0  # where the current file-scope chunk began
    for m in _BRACE.finditer(code):
        ch = m.group()
        if ch == "{":
            if depth == 0:
                _scan_decl(code[start:m.start()], names)
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
            if depth == 0:
                start = m.end()
        elif depth == 0:  # ';' at file scope: a prototype or a declaration, not a definition
            start = m.end()
    return names


def _scan_decl(text: str, names: List[str]) -> None:
    text = re.sub(r"__attribute__\s*\(\s*\((?:[^()]|\([^()]*\))*\)\s*\)", " ", text)
    text = re.sub(r"__launch_bounds__\s*\([^)]*\)", " ", text)
    text = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    for m in re.finditer(r"([A-Za-z_]\w*)\s*\(", text):
        if m.group(1) in _DECL_TYPES or m.group(1) in ("__attribute__", "__launch_bounds__"):
            continue
        if m.group(1) not in names:
            names.append(m.group(1))
        return


_IDENT = re.compile(r"\b([A-Za-z_]\w*)\b(\s*\()?")
_WORD_GAP = re.compile(r"(?<=[\w.])\s+(?=[\w.])")
_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=4096)
def _kept(t: str) -> bool:
    """Keywords, types and built-ins: never renamed."""
    return t in _DECL_TYPES or bool(_BUILTIN_PREFIX.match(t))


def normalize_kernel_source(source: str) -> str:
    """Comments and layout stripped, declared identifiers renamed canonically (id0, id1, ...).

    `@launch` annotations are kept, since the launch geometry is part of the kernel. Whitespace
    survives only where it separates two words."""
    launches: List[str] = []

    def keep_launch(m) -> str:
        launches.append(m.group(1).strip())
        return f"\n__uhopc_launch_{len(launches) - 1} ;\n"

    code = strip_comments(_LAUNCH.sub(keep_launch, source))
    defined = set(top_level_functions(source))
    mapping: Dict[str, str] = {}

    def ident(m) -> str:
        t, call = m.group(1), m.group(2)
        known = mapping.get(t)
        if known is not None:
            return known + ("(" if call else "")
        if t.startswith("__uhopc_launch_"):
            return "@launch " + " ".join(_rename_launch(launches[int(t.rsplit("_", 1)[1])], mapping))
        if _kept(t) or (call and t not in defined and t not in mapping):
            return t + ("(" if call else "")
        if t not in mapping:
            mapping[t] = f"id{len(mapping)}"
        return mapping[t] + ("(" if call else "")

    code = _IDENT.sub(ident, code)
    code = _WORD_GAP.sub("\x01", code)
    return _SPACE.sub("", code).replace("\x01", " ")


def _rename_launch(text: str, mapping: Dict[str, str]) -> List[str]:
    out = []
    for t in _TOKEN.findall(text):
        if (t[0].isalpha() or t[0] == "_") and t not in ("launch", "global", "local", "grid", "block", "smem",
                                                          "cdiv", "roundup", "auto"):
            if t not in mapping:
                mapping[t] = f"id{len(mapping)}"
            out.append(mapping[t])
        else:
            out.append(t)
    return out


def kernel_key(source: str, sizes: Optional[Mapping[str, int]] = None, extra: str = "") -> str:
    """sha256 of the normalised kernel source (plus the size values in order, and `extra`)."""
    blob = normalize_kernel_source(source)
    if sizes is not None:
        blob += "\x00" + ",".join(str(int(v)) for _k, v in sorted(sizes.items()))
    return hashlib.sha256((blob + "\x00" + extra).encode()).hexdigest()


# ------------------------------------------------------------------ in-memory set
class SeenSet:
    """Keys seen so far, by kind ('uir', 'kernel'); `add` returns False for a duplicate."""

    def __init__(self, keys: Iterable[Tuple[str, str]] = ()):
        self._keys: Dict[str, Set[str]] = {}
        for kind, key in keys:
            self._keys.setdefault(kind, set()).add(key)

    def __contains__(self, item: Tuple[str, str]) -> bool:
        kind, key = item
        return key in self._keys.get(kind, ())

    def add(self, kind: str, key: str) -> bool:
        s = self._keys.setdefault(kind, set())
        if key in s:
            return False
        s.add(key)
        return True

    def __len__(self) -> int:
        return sum(len(s) for s in self._keys.values())

