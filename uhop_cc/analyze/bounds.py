"""Memory safety of OpenCL C / CUDA kernel sources for one concrete launch (interval analysis).

    report = check_memory(source, "opencl", launches_for(source, "opencl", bound))
    for f in report.errors():
        print(f.line, f.message)   # write Y[i + N] can reach element 619; Y has 300 elements (at N=300, ...)

Everything is concrete: the size arguments, the global/local sizes of each launch and the element
count of every buffer are known, so each integer expression of a launched kernel is evaluated to an
interval of the values it takes over all work-items. The analysis runs each kernel body once (loops
run to a fixpoint with widening, branches are joined), refining intervals by the guards it
understands (`x < e`, `x + c <= e`, `&&`, `||`, negations, early `return`/`continue`, bool
variables holding such conditions, `c ? a : b`). Every global, local and private access (indexing,
`*p`, vload/vstore, atomics, `async_work_group_copy`, pointer casts) is checked against its buffer.
`launches_for` builds the launches of a generated source from a BoundKernel (the uhopc ABI);
`MemReport.reach` gives, per ABI buffer, the lowest and highest element any access can touch.

What the verdicts mean:

* no finding: for this launch every access provably stays inside its buffer (each index of a
  multi-dimensional local/private array inside its dimension);
* `mem.oob-*` (error): the touched interval leaves the buffer, the offending endpoint is *exact*
  (attained by some work-item: ids, loop counters, affine combinations of independent ones) and
  the path to the access is provably taken by the work-items that attain it (every guard on the
  way was refined exactly, on independent terms), so some work-item really makes that access;
* `mem.unproven-*` (warning): the interval could not be shown inside the buffer, but the analysis
  cannot claim that a work-item really goes out: the index is data dependent (loaded from memory,
  magic-number division), the interval is an over-approximation (products, %, joins, loop-carried
  values), the guard is not understood, or the pointer cannot be followed.

Not proven: the absence of races, the alignment of vector casts, anything about values read from
memory (always unknown), and accesses in functions no launched kernel reaches (helpers are
analysed inline at each call). Arithmetic is on unbounded integers; a conversion to a narrower
integer type that may wrap gives the whole range of that type, and signed overflow (undefined in
C) is assumed not to happen. `check_memory` never raises: code it cannot read (or an analysis
that runs out of budget) turns the affected accesses into warnings.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ["ArgValue", "Launch", "MemFinding", "MemReport", "check_memory", "launches_for"]

INF = math.inf


@dataclass(frozen=True)
class ArgValue:
    kind: str  # "buffer", "int" or "float"
    elements: int = 0  # buffer: element count (scalar elements of the tensor)
    value: Optional[int] = None  # int: concrete value (None = unknown)
    name: str = ""  # ABI name


@dataclass(frozen=True)
class Launch:
    kernel: str
    args: Tuple[ArgValue, ...]
    global_size: Tuple[int, ...]  # total work-items per dim (CUDA: grid * block)
    local_size: Optional[Tuple[int, ...]]  # None = chosen by the driver


@dataclass(frozen=True)
class MemFinding:
    code: str
    severity: str
    message: str
    line: int
    kernel: str
    buffer: str


@dataclass
class MemReport:
    findings: List[MemFinding]
    reach: Dict[str, Tuple[Optional[int], Optional[int]]]

    def errors(self) -> List[MemFinding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_json(self) -> dict:
        return {"findings": [asdict(f) for f in self.findings], "errors": len(self.errors()),
                "reach": {k: list(v) for k, v in self.reach.items()}}


class _Stop(Exception):
    """Parse error, or an input too large or too deep to analyse."""


# ------------------------------------------------------------------ lexer and preprocessor
_TOKEN = re.compile(r"""(?P<sp>\s+|//[^\n]*|/\*.*?(?:\*/|\Z))
 |(?P<num>(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[uUlLfFhH]*)
 |(?P<id>[A-Za-z_]\w*)
 |(?P<str>"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?)
 |(?P<op>\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||::|[-+*/%&|^]=|\S)""", re.S | re.X)
_DIRECTIVE = re.compile(r"[ \t]*#[ \t]*(\w*)(.*)")
_DEFINE = re.compile(r"\s*([A-Za-z_]\w*)(?:\(([^)]*)\))?(.*)", re.S)
_MAX_TOKENS = 400_000


def _lex(text: str, line: int, pos: int) -> list:
    out = []
    for m in _TOKEN.finditer(text):
        kind, s = m.lastgroup, m.group()
        if kind != "sp":
            out.append((kind, s, line, pos + m.start(), pos + m.end()))
        if "\n" in s:
            line += s.count("\n")
    return out


def _expand(toks: list, macros: dict, hide: frozenset = frozenset(), count: Optional[list] = None) -> list:
    """Object- and function-like macro expansion (no # or ##); `hide` stops self-reference."""
    count = count if count is not None else [0]
    out, i = [], 0
    while i < len(toks):
        t = toks[i]
        mac = macros.get(t[1]) if t[0] == "id" and t[1] not in hide else None
        if mac is None or (mac[0] is not None and (i + 1 >= len(toks) or toks[i + 1][1] != "(")):
            out.append(t)
            i += 1
            continue
        params, body = mac
        args, j = [], i + 1
        if params is not None:
            depth, cur, j = 0, [], i + 2
            while j < len(toks) and not (depth == 0 and toks[j][1] == ")"):
                depth += toks[j][1] in "([{" and toks[j][0] == "op"
                depth -= toks[j][1] in ")]}" and toks[j][0] == "op"
                if depth == 0 and toks[j][1] == ",":
                    args.append(cur)
                    cur = []
                else:
                    cur.append(toks[j])
                j += 1
            args.append(cur)
            j += 1
        table = {p: _expand(a, macros, hide, count) for p, a in zip(params or (), args)}
        if params and "..." in params:
            rest = args[len(params) - 1:]
            comma = ("op", ",", t[2], t[3], t[4])
            table["__VA_ARGS__"] = [x for k, a in enumerate(rest)
                                    for x in [comma][:k] + _expand(a, macros, hide, count)]
        sub = []
        for b in body:
            sub.extend(table[b[1]] if b[0] == "id" and b[1] in table else
                       [(b[0], b[1], t[2], t[3], t[4])] if b[1] not in ("#", "##") else [])
        count[0] += len(sub)
        if count[0] > _MAX_TOKENS:
            raise _Stop("macro expansion too large")
        out.extend(_expand(sub, macros, hide | {t[1]}, count))
        i = j
    return out


def _pp_true(rest: str, macros: dict) -> bool:
    toks, out, k = _lex(rest, 0, 0), [], 0
    while k < len(toks):
        if toks[k][1] == "defined":
            paren = k + 1 < len(toks) and toks[k + 1][1] == "("
            name = toks[k + 1 + paren][1] if k + 1 + paren < len(toks) else ""
            out.append(("num", "1" if name in macros else "0", 0, 0, 0))
            k += 2 + 2 * paren
            continue
        out.append(toks[k])
        k += 1
    toks = [("num", "0", 0, 0, 0) if t[0] == "id" else t for t in _expand(out, macros)]
    try:
        v = _Run(None, None, "opencl", None).ev(_Parser(toks, "opencl").expr(), _Env())
        return not (isinstance(v, _V) and v.lo == v.hi == 0)
    except Exception:  # noqa: BLE001 - an unreadable #if counts as true
        return True


def _tokens(source: str) -> list:
    """Tokens of `source` after the preprocessor (#define/#undef/#if.../#endif; other directives dropped)."""
    lines, macros, out, stack = source.split("\n"), {}, [], []
    active, chunk, start, pos, i = True, [], (1, 0), 0, 0
    count = [0]
    while i < len(lines):
        ln = lines[i]
        m = _DIRECTIVE.match(ln) if "#" in ln else None
        if not m:
            chunk.append(ln)
            pos += len(ln) + 1
            i += 1
            continue
        if chunk and active:
            out.extend(_expand(_lex("\n".join(chunk), *start), macros, count=count))
        text, j = ln, i
        while text.endswith("\\") and j + 1 < len(lines):
            j += 1
            text = text[:-1] + " " + lines[j]
        name, rest = _DIRECTIVE.match(text).groups()
        if name in ("if", "ifdef", "ifndef"):
            word = rest.split()[0] if rest.split() else ""
            cond = (word in macros) if name == "ifdef" else (word not in macros) if name == "ifndef" else \
                (active and _pp_true(rest, macros))
            stack.append((active, active and cond))
            active = active and cond
        elif name in ("elif", "else") and stack:
            parent, taken = stack[-1]
            active = parent and not taken and (name == "else" or _pp_true(rest, macros))
            stack[-1] = (parent, taken or active)
        elif name == "endif":
            active = stack.pop()[0] if stack else True
        elif active and name == "define":
            d = _DEFINE.match(rest)
            if d:
                params = None if d.group(2) is None else [p.strip() for p in d.group(2).split(",") if p.strip()]
                macros[d.group(1)] = (params, _lex(d.group(3), i + 1, pos))
        elif active and name == "undef":
            macros.pop(rest.strip(), None)
        for k in range(i, j + 1):
            pos += len(lines[k]) + 1
        i = j + 1
        chunk, start = [], (i + 1, pos)
    if chunk and active:
        out.extend(_expand(_lex("\n".join(chunk), *start), macros, count=count))
    if len(out) > _MAX_TOKENS:
        raise _Stop("source too large")
    return out


# ------------------------------------------------------------------ types
_QUALS = {"const", "volatile", "restrict", "__restrict", "__restrict__", "static", "register", "extern", "inline",
          "__inline", "__inline__", "__forceinline__", "__noinline__", "__device__", "__host__", "__global__",
          "__kernel", "kernel", "__global", "__local", "__private", "__constant", "__shared__", "__constant__",
          "__managed__", "__read_only", "__write_only", "typename", "struct", "union", "enum", "__generic"}
_CL_QUALS = {"global", "local", "private", "constant", "read_only", "write_only"}
_SCALAR = {"void": 1, "bool": 1, "_Bool": 1, "char": 1, "uchar": 1, "short": 2, "ushort": 2, "int": 4, "uint": 4,
           "long": 8, "ulong": 8, "float": 4, "double": 8, "half": 2, "__half": 2, "__nv_bfloat16": 2, "size_t": 8,
           "ptrdiff_t": 8, "intptr_t": 8, "uintptr_t": 8, "signed": 4, "unsigned": 4, "int8_t": 1, "uint8_t": 1,
           "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4, "int64_t": 8, "uint64_t": 8, "auto": 4,
           }
_VEC = re.compile(r"(u?char|u?short|u?int|u?long|float|double|half|u?longlong)(\d+)$")
_FLOATY = {"float", "double", "half", "__half", "__nv_bfloat16"}
_LOCAL_SPACES = {"__local", "local", "__shared__"}
_LANES = ("2", "3", "4", "8", "16")


@dataclass(frozen=True)
class _Type:
    kind: str  # 'int', 'float' or 'other' (vectors, structs, void)
    size: int  # bytes of one object
    scalar: int  # bytes of its scalar (vectors: of one lane)
    space: str = ""  # 'local' for __local/__shared__
    unsigned: bool = False


def _type_of(words: Sequence[str], target: str) -> _Type:
    names = [w for w in words if w in _SCALAR or (_VEC.match(w) and _VEC.match(w).group(2) in _LANES)]
    space = "local" if any(w in _LOCAL_SPACES or (target == "opencl" and w == "local") for w in words) else ""
    if not names:  # a struct or typedef: its size is unknown (0)
        return _Type("other", 0, 0, space)
    v = _VEC.match(names[-1])
    if v:
        lanes, base = int(v.group(2)), v.group(1).lstrip("u").replace("longlong", "long")
        scalar = _SCALAR.get(base, 4)
        return _Type("other", scalar * (4 if lanes == 3 and target == "opencl" else lanes), scalar, space)
    size = 8 if names.count("long") > 1 else _SCALAR[names[-1]]
    if any(w in _FLOATY for w in names):
        return _Type("float", size, size, space)
    uns = "unsigned" in names or names[-1] in ("size_t", "uintptr_t") or names[-1][0] == "u"
    return _Type("other" if names[-1] == "void" else "int", size, size, space, uns)


# ------------------------------------------------------------------ parser
class _Node:
    __slots__ = ("k", "v", "a", "line", "s", "e", "_key", "_names")

    def __init__(self, k, v, a, line, s=0, e=0):
        self.k, self.v, self.a, self.line, self.s, self.e = k, v, a, line, s, e
        self._key = self._names = None

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = f"{self.k}{self.v}(" + ",".join(
                c.key if isinstance(c, _Node) else "" for c in self.a) + ")"
        return self._key

    @property
    def names(self) -> tuple:
        if self._names is None:
            s = {self.v} if self.k == "id" else set()
            for c in self.a:
                if isinstance(c, _Node):
                    s.update(c.names)
            self._names = tuple(sorted(s))
        return self._names


_BINPREC = {"||": 4, "&&": 5, "|": 6, "^": 7, "&": 8, "==": 9, "!=": 9, "<": 10, "<=": 10, ">": 10, ">=": 10,
            "<<": 11, ">>": 11, "+": 12, "-": 12, "*": 13, "/": 13, "%": 13}
_ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^=", "&&=", "||="}
_CPP_CASTS = {"static_cast", "reinterpret_cast", "const_cast", "dynamic_cast"}


class _Parser:
    def __init__(self, toks: list, target: str):
        self.t, self.i, self.target, self.depth = toks, 0, target, 0

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.t[j][1] if j < len(self.t) else ""

    def take(self, want: Optional[str] = None) -> tuple:
        if self.i >= len(self.t) or (want is not None and self.t[self.i][1] != want):
            raise _Stop(f"expected {want or 'a token'}")
        self.i += 1
        return self.t[self.i - 1]

    def node(self, k, v, a, start) -> _Node:
        return _Node(k, v, a, self.t[min(start, len(self.t) - 1)][2] if self.t else 0, start, self.i)

    def is_type(self, k: int = 0) -> bool:
        w = self.peek(k)
        return (w in _QUALS or w in _SCALAR or bool(_VEC.match(w)) or w in ("__attribute__", "__align__")
                or (self.target == "opencl" and w in _CL_QUALS))

    def type_words(self) -> List[str]:
        words = []
        while self.is_type() or (words and words[-1] in ("struct", "union", "enum")) or self.peek() == "::":
            w = self.take()[1]
            if w in ("__attribute__", "__align__") and self.peek() == "(":
                self.skip_group()
                continue
            words.append(w)
        base = any(w in _SCALAR or _VEC.match(w) for w in words)
        if not base and self.i + 1 < len(self.t) and self.t[self.i][0] == "id" and \
                (self.t[self.i + 1][0] == "id" or self.peek(1) in ("*", "&", ")")):  # a user type: T x
            words.append(self.take()[1])
        return words

    def skip_group(self) -> None:
        depth = 0
        while self.i < len(self.t):
            w = self.take()[1]
            depth += w in ("(", "[", "{")
            depth -= w in (")", "]", "}")
            if depth <= 0:
                return

    def ptr_stars(self) -> int:
        n = 0
        while self.peek() in ("*", "&") or self.peek() in _QUALS or (self.target == "opencl" and
                                                                      self.peek() in _CL_QUALS):
            n += self.take()[1] == "*"
        return n

    def type_name(self) -> _Type:
        words = self.type_words()
        stars = self.ptr_stars()
        t = _type_of(words, self.target)
        return _Type("ptr", t.size, t.scalar, t.space) if stars else t

    # ---- expressions
    def expr(self) -> _Node:
        s = self.i
        e = self.assign()
        while self.peek() == ",":
            self.take()
            e = self.node("comma", ",", (e, self.assign()), s)
        return e

    def assign(self) -> _Node:
        s = self.i
        lhs = self.ternary()
        if self.peek() in _ASSIGN:
            op = self.take()[1]
            rhs = self.assign()
            if op == "=":
                return self.node("asg", op, (lhs, rhs), s)
            return self.node("asg", op, (lhs, rhs, _Node("bin", op[:-1], (lhs, rhs), lhs.line, s, self.i)), s)
        return lhs

    def ternary(self) -> _Node:
        s = self.i
        c = self.binary(4)
        if self.peek() != "?":
            return c
        self.take()
        a = self.expr()
        self.take(":")
        return self.node("tern", "?", (c, a, self.assign()), s)

    def binary(self, prec: int) -> _Node:
        s = self.i
        lhs = self.unary()
        while _BINPREC.get(self.peek(), 0) >= prec:
            op = self.take()[1]
            rhs = self.binary(_BINPREC[op] + 1)
            lhs = self.node("log" if op in ("&&", "||") else "bin", op, (lhs, rhs), s)
        return lhs

    def unary(self) -> _Node:
        s = self.i
        self.depth += 1
        if self.depth > 120:
            raise _Stop("expression nested too deeply")
        try:
            w = self.peek()
            if w in ("-", "+", "!", "~", "*", "&"):
                self.take()
                return self.node({"*": "deref", "&": "addr"}.get(w, "un"), w, (self.unary(),), s)
            if w in ("++", "--"):
                self.take()
                x = self.unary()
                return self.node("asg", w, (x, x, self.plus_one(w, x, s)), s)
            if w == "sizeof":
                self.take()
                if self.peek() == "(" and self.is_type(1):
                    self.take("(")
                    t = self.type_name()
                    self.take(")")
                    return self.node("num", t.size, (), s)
                self.unary()
                return self.node("unk", None, (), s)
            if w == "(" and self.is_type(1):
                self.take()
                t = self.type_name()
                self.take(")")
                return self.node("cast", t, (self.unary(),), s)
            if w in _CPP_CASTS:
                self.take()
                self.take("<")
                t = self.type_name()
                self.take(">")
                self.take("(")
                x = self.expr()
                self.take(")")
                return self.postfix(self.node("cast", t, (x,), s), s)
            return self.postfix(self.primary(), s)
        finally:
            self.depth -= 1

    def plus_one(self, op: str, x: _Node, s: int) -> _Node:
        """`x + 1` (or `x - 1`) for ++ / --."""
        return _Node("bin", op[0], (x, _Node("num", 1, (), x.line)), x.line, s, self.i)

    def postfix(self, e: _Node, s: int) -> _Node:
        while True:
            w = self.peek()
            if w == "[":
                self.take()
                i = self.expr()
                self.take("]")
                e = self.node("idx", "[", (e, i), s)
            elif w == "(":
                self.take()
                args = []
                while self.peek() != ")":
                    args.append(self.assign())
                    if self.peek() != ")":
                        self.take(",")
                self.take(")")
                e = self.node("call", e.v if e.k == "id" else None, (e, *args), s)
            elif w in (".", "->"):
                self.take()
                e = self.node("mem", w, (e, _Node("field", self.take()[1], (), 0)), s)
            elif w in ("++", "--"):
                self.take()
                e = self.node("post", w, (e, self.plus_one(w, e, s)), s)
            else:
                return e

    def primary(self) -> _Node:
        s = self.i
        kind, text = self.t[self.i][:2] if self.i < len(self.t) else ("", "")
        if kind == "num":
            self.take()
            return self.node("num", _number(text), (), s)
        if kind == "id":
            self.take()
            while self.peek() == "::" and self.peek(1):
                self.take()
                text = self.take()[1]
            return self.node("id", text, (), s)
        if kind == "str":
            self.take()
            return self.node("num", ord(text[1]) if text[0] == "'" and len(text) == 3 else None, (), s)
        if text == "(":
            self.take()
            e = self.expr()
            self.take(")")
            return e
        if text == "{":
            return self.init_list()
        raise _Stop(f"unexpected `{text}`")

    def init_list(self) -> _Node:
        s = self.i
        self.take("{")
        items = []
        while self.peek() not in ("}", ""):
            if self.peek() in (".", "["):  # designators
                while self.peek() != "=":
                    self.take()
                self.take("=")
            items.append(self.init_list() if self.peek() == "{" else self.assign())
            if self.peek() != "}":
                self.take(",")
        self.take("}")
        return self.node("init", None, tuple(items), s)

    # ---- statements
    def block(self) -> _Node:
        s = self.i
        self.take("{")
        items = []
        while self.peek() not in ("}", ""):
            items.append(self.stmt())
        self.take("}")
        return self.node("block", None, tuple(items), s)

    def stmt(self) -> _Node:
        s = self.i
        self.depth += 4
        try:
            if self.depth > 240:
                raise _Stop("statements nested too deeply")
            return self.stmt_inner(s)
        except _Stop:
            if self.depth > 240 or s >= len(self.t):
                raise
            self.i = s
            self.skip_bad()
            return self.node("bad", None, (), s)
        finally:
            self.depth -= 4

    def skip_bad(self) -> None:
        depth, start = 0, self.i
        while self.i < len(self.t):
            w = self.t[self.i][1]
            if depth == 0 and w == "}" and self.i > start:
                return
            self.i += 1
            depth = max(0, depth + (w in ("(", "[", "{")) - (w in (")", "]", "}")))
            if depth == 0 and w in (";", "}"):
                return

    def paren(self) -> _Node:
        self.take("(")
        e = self.expr()
        self.take(")")
        return e

    def stmt_inner(self, s: int) -> _Node:
        w = self.peek()
        if w == "{":
            return self.block()
        if w == ";":
            self.take()
            return self.node("nop", None, (), s)
        if w == "if":
            self.take()
            c = self.paren()
            th = self.stmt()
            el = None
            if self.peek() == "else":
                self.take()
                el = self.stmt()
            return self.node("if", None, (c, th, el), s)
        if w in ("while", "switch"):
            self.take()
            c = self.paren()
            return self.node(w, None, (c, self.stmt()), s)
        if w == "do":
            self.take()
            body = self.stmt()
            self.take("while")
            c = self.paren()
            self.take(";")
            return self.node("do", None, (c, body), s)
        if w == "for":
            return self.for_stmt(s)
        if w in ("return", "break", "continue", "goto"):
            self.take()
            e = self.expr() if self.peek() != ";" and w == "return" else None
            while self.peek() not in (";", ""):
                self.take()
            self.take(";")
            return self.node(w, None, (e,), s)
        if w in ("case", "default") or (self.i + 1 < len(self.t) and self.t[self.i][0] == "id" and self.peek(1) == ":"):
            while self.peek() not in (":", ""):
                self.take()
            self.take(":")
            return self.node("label", None, (), s)
        if w in ("typedef", "struct", "union", "enum", "using", "template") and w != "struct" or \
                (w == "struct" and self.peek(2) == "{"):
            self.skip_bad()
            return self.node("nop", None, (), s)
        if self.is_decl():
            return self.decl(s)
        e = self.expr()
        self.take(";")
        return self.node("expr", None, (e,), s)

    def for_stmt(self, s: int) -> _Node:
        self.take("for")
        self.take("(")
        init = None
        if self.peek() != ";":
            init = self.decl(self.i) if self.is_decl() else self.node("expr", None, (self.expr(),), self.i)
            if init.k == "expr":
                self.take(";")
        else:
            self.take(";")
        cond = self.expr() if self.peek() != ";" else None
        self.take(";")
        step = self.expr() if self.peek() != ")" else None
        self.take(")")
        return self.node("for", None, (init, cond, step, self.stmt()), s)

    def is_decl(self) -> bool:
        if self.is_type():
            return True
        if self.i + 1 < len(self.t) and self.t[self.i][0] == "id":
            nxt = self.t[self.i + 1]
            if nxt[0] == "id":
                return True
            return nxt[1] == "*" and self.i + 3 < len(self.t) and self.t[self.i + 2][0] == "id" and \
                self.peek(3) in ("=", ";", ",")
        return False

    def decl(self, s: int) -> _Node:
        t = _type_of(words := self.type_words(), self.target)
        items = []
        while True:
            stars = self.ptr_stars()
            ref = self.i > 0 and self.t[self.i - 1][1] == "&"
            name = self.take()[1]
            if not re.match(r"[A-Za-z_]\w*$", name) or name in _QUALS:
                raise _Stop("bad declarator")
            dims = []
            while self.peek() == "[":
                self.take()
                dims.append(self.expr() if self.peek() != "]" else None)
                self.take("]")
            while self.peek() in ("__attribute__", "__align__"):
                self.take()
                self.skip_group()
            init = None
            if self.peek() == "=":
                self.take()
                init = self.init_list() if self.peek() == "{" else self.assign()
            ty = _Type("ref", 0, 0) if ref else _Type("ptr", t.size, t.scalar, t.space) if stars else t
            items.append((name, ty, tuple(dims), init, "extern" in words))
            if self.peek() != ",":
                break
            self.take(",")
        self.take(";")
        return self.node("decl", tuple(items), tuple(x[3] for x in items if x[3] is not None) +
                         tuple(d for x in items for d in x[2] if d is not None), s)


def _number(text: str):
    t = text.lower()
    try:
        if t.startswith("0x"):
            return int(t.rstrip("ul"), 16)
        if "." in t or "e" in t or t.endswith(("f", "h")):
            return None
        t = t.rstrip("ul")
        return int(t, 8) if len(t) > 1 and t[0] == "0" and t.isdigit() and "8" not in t and "9" not in t else int(t)
    except ValueError:
        return None


@dataclass
class _Func:
    name: str
    head: List[str]
    params: list  # (name, _Type)
    body: Tuple[int, int]  # token span of the body, braces included
    parsed: Optional[_Node] = None


_NOT_FUNCS = {"if", "while", "for", "switch", "return", "sizeof", "__attribute__", "__launch_bounds__", "__align__",
              "reqd_work_group_size", "defined", "__declspec"}


def _functions(toks: list, target: str) -> Tuple[Dict[str, _Func], list]:
    """Function definitions (by name, kernels first on clashes) and top-level declaration token spans."""
    funcs: Dict[str, _Func] = {}
    decls, i, start, n = [], 0, 0, len(toks)

    def match(j: int) -> int:
        opening, depth = toks[j][1], 0
        closing = {"(": ")", "{": "}", "[": "]"}[opening]
        while j < n:
            depth += toks[j][1] == opening
            depth -= toks[j][1] == closing
            if depth == 0:
                return j
            j += 1
        return n - 1

    while i < n:
        w = toks[i][1]
        if w == "{":
            if i > 0 and (toks[i - 1][0] == "str" or toks[i - 1][1] == "namespace" or
                          (i > 1 and toks[i - 2][1] == "namespace")):
                i, start = i + 1, i + 1
                continue
            i = match(i) + 1
            continue
        if w in (";", "}"):
            if w == ";" and start < i:
                decls.append((start, i + 1))
            i, start = i + 1, i + 1
            continue
        if toks[i][0] == "id" and w not in _NOT_FUNCS and i + 1 < n and toks[i + 1][1] == "(":
            close = match(i + 1)
            k = close + 1
            while k < n and toks[k][1] in ("const", "noexcept", "__attribute__", "__launch_bounds__"):
                k = match(k + 1) + 1 if k + 1 < n and toks[k + 1][1] == "(" else k + 1
            if k < n and toks[k][1] == "{":
                end = match(k)
                head = [t[1] for t in toks[start:i]]
                old = funcs.get(w)
                kern = any(h in ("__kernel", "kernel", "__global__") for h in head)
                if old is None or (kern and not any(h in ("__kernel", "kernel", "__global__") for h in old.head)):
                    funcs[w] = _Func(w, head, _params(toks[i + 2:close], target), (k, end + 1))
                i, start = end + 1, end + 1
                continue
            i = close + 1
            continue
        i += 1
    return funcs, decls


def _params(toks: list, target: str) -> list:
    out, cur, depth = [], [], 0
    for t in toks + [("op", ",", 0, 0, 0)]:
        depth += t[1] in "([" and t[0] == "op"
        depth -= t[1] in ")]" and t[0] == "op"
        if depth == 0 and t[1] == ",":
            words = [x[1] for x in cur]
            names = [x for x in words if re.match(r"[A-Za-z_]\w*$", x) and x not in _QUALS and x not in _SCALAR
                     and not _VEC.match(x) and not (target == "opencl" and x in _CL_QUALS)]
            if words and words != ["void"]:
                ty = _type_of(words, target)
                if "*" in words or "[" in words:
                    ty = _Type("ptr", ty.size, ty.scalar, ty.space)
                out.append((names[-1] if names else f"_arg{len(out)}", ty))
            cur = []
        else:
            cur.append(t)
    return out


# ------------------------------------------------------------------ abstract values
_DATA = frozenset({"data"})  # the dependency of values read from memory
_NOD = frozenset()


class _V:
    """Integer interval [lo, hi] (+-inf allowed) over the work-items on the current path.

    ex: both endpoints are attained; dn: every value of the congruence class m, r inside is
    attained; deps: the independent bases (ids, loop counters, 'data') the value depends on;
    ident: the value *is* that base; fl: a float (never refined); cond/quot/did: what the value
    was computed from, for bool variables, `x - (x / d) * d` and fact keys."""
    __slots__ = ("lo", "hi", "ex", "dn", "m", "r", "deps", "ident", "fl", "cond", "quot", "did")

    def __init__(self, lo=-INF, hi=INF, ex=False, dn=False, m=1, r=0, deps=_NOD, ident=None, fl=False):
        if lo == hi:
            m, r = 0, lo
        elif m > 1:
            r %= m
            lo = lo if lo == -INF else lo + (r - lo) % m
            hi = hi if hi == INF else hi - (hi - r) % m
        else:
            m, r = 1, 0
        self.lo, self.hi, self.ex, self.dn, self.m, self.r = lo, hi, ex, dn and ex, m, r
        self.deps, self.ident, self.fl = deps, ident, fl
        self.cond = self.quot = None
        self.did = 0


def _cp(v: _V, cond=False, quot=False, did=None, **kw) -> _V:
    d = {k: getattr(v, k) for k in ("lo", "hi", "ex", "dn", "m", "r", "deps", "ident", "fl")}
    d.update(kw)
    n = _V(**d)
    n.cond = v.cond if cond is False else cond
    n.quot = v.quot if quot is False else quot
    n.did = v.did if did is None else did
    return n


def _c(x, ex: bool = True) -> _V:
    return _V(x, x, ex, ex)


_U = _V()
_F = _V(fl=True)
_BOOL = _V(0, 1)


def _unk(*vals, fl: bool = False) -> _V:
    deps = _NOD.union(*[v.deps for v in vals if isinstance(v, _V)])
    return _V(deps=deps, fl=fl or any(isinstance(v, _V) and v.fl for v in vals))


def _m(x, y):
    return 0 if x == 0 or y == 0 else x * y


def _td(x, c):
    if x in (INF, -INF):
        return x if c > 0 else -x
    if c in (INF, -INF):
        return 0
    q = abs(x) // abs(c)
    return q if (x >= 0) == (c > 0) else -q


def _covers(x: _V, y: _V) -> bool:
    return x.m > 0 and y.m > 0 and y.m % x.m == 0 and x.hi - x.lo + x.m >= y.m


def _add(a: _V, b: _V) -> _V:
    if a.fl or b.fl:
        return _unk(a, b)
    ind = not (a.deps & b.deps)
    dn = a.dn and b.dn and ind and (a.m == 0 or b.m == 0 or a.m == b.m or _covers(a, b) or _covers(b, a))
    return _V(a.lo + b.lo, a.hi + b.hi, a.ex and b.ex and ind, dn, math.gcd(a.m, b.m), a.r + b.r, a.deps | b.deps)


def _neg(a: _V) -> _V:
    return _V(-a.hi, -a.lo, a.ex, a.dn, a.m, -a.r, a.deps, fl=a.fl)


def _mul(a: _V, b: _V) -> _V:
    if a.fl or b.fl:
        return _unk(a, b)
    if a.m == 0 and b.m != 0:
        a, b = b, a
    if b.m == 0:
        c = b.lo
        if c == 0:
            return _c(0, b.ex)
        lo, hi = sorted((_m(a.lo, c), _m(a.hi, c)))
        return _V(lo, hi, a.ex and b.ex, a.dn and b.ex, a.m * abs(c), a.r * c, a.deps | b.deps)
    ps = [_m(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    return _V(min(ps), max(ps), m=math.gcd(a.m * b.m, a.m * b.r, b.m * a.r), r=a.r * b.r, deps=a.deps | b.deps)


def _div(a: _V, b: _V) -> _V:
    if a.fl or b.fl:
        return _unk(a, b)
    deps = a.deps | b.deps
    if b.m == 0 and b.lo != 0:
        c = b.lo
        lo, hi = sorted((_td(a.lo, c), _td(a.hi, c)))
        if a.m > 0 and a.m % c == 0 and a.r % c == 0:
            return _V(lo, hi, a.ex and b.ex, a.dn and b.ex, a.m // abs(c), _td(a.r, c), deps)
        return _V(lo, hi, a.ex and b.ex, a.dn and b.ex and a.m == 1, deps=deps)
    if b.lo > 0:
        qs = [_td(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        return _V(min(qs), max(qs), deps=deps)
    if b.hi < 0:
        return _div(_neg(a), _neg(b))
    return _unk(a, b)


def _mod(a: _V, b: _V) -> _V:
    if a.fl or b.fl:
        return _unk(a, b)
    deps = a.deps | b.deps
    if b.m == 0 and b.lo != 0:
        d = abs(b.lo)
        if a.m == 0:
            return _c(a.lo - d * _td(a.lo, d), a.ex and b.ex)
        g = math.gcd(a.m, d)
        if a.lo >= 0:
            if a.hi < d:
                return _cp(a, cond=None, quot=None, did=0)
            full = a.dn and a.m == 1 and a.hi - a.lo + 1 >= d and b.ex
            return _V(0, d - 1, full, full, g, a.r, deps)
        if a.hi <= 0:
            return _neg(_mod(_neg(a), b))
        return _V(max(a.lo, 1 - d), min(a.hi, d - 1), m=g, r=a.r, deps=deps)
    if b.lo > 0:
        return _V(0 if a.lo >= 0 else max(a.lo, 1 - b.hi), min(a.hi, b.hi - 1), deps=deps)
    return _unk(a, b)


def _shift_amount(b: _V) -> Optional[int]:
    return int(b.lo) if b.m == 0 and not b.fl and 0 <= b.lo <= 62 else None


def _shl(a: _V, b: _V) -> _V:
    s = _shift_amount(b)
    return _mul(a, _c(1 << s, b.ex)) if s is not None else _unk(a, b)


def _shr(a: _V, b: _V) -> _V:
    s = _shift_amount(b)
    if s is None or a.fl:
        return _unk(a, b)
    lo, hi = (x if x in (INF, -INF) else x >> s for x in (a.lo, a.hi))
    p = 1 << s
    if a.m > 0 and a.m % p == 0:
        return _V(lo, hi, a.ex and b.ex, a.dn and b.ex, a.m // p, a.r >> s, a.deps)
    return _V(lo, hi, a.ex and b.ex, a.dn and b.ex and a.m <= 1, deps=a.deps)


def _band(a: _V, b: _V) -> _V:
    if a.fl or b.fl:
        return _unk(a, b)
    if a.m == 0 and b.m == 0:
        return _c(int(a.lo) & int(b.lo), a.ex and b.ex)
    for x, y in ((a, b), (b, a)):
        if y.m == 0 and y.lo >= 0:
            mask = int(y.lo)
            low = mask & (mask + 1) == 0
            if low and x.lo >= 0 and x.hi <= mask:
                return _cp(x, cond=None, quot=None, did=0)
            full = low and x.dn and x.m == 1 and x.lo >= 0 and x.hi - x.lo >= mask
            return _V(0, mask if x.lo < 0 else min(x.hi, mask), full, full, deps=x.deps)
    if a.lo >= 0 and b.lo >= 0:
        return _V(0, min(a.hi, b.hi), deps=a.deps | b.deps)
    return _unk(a, b)


def _bor(a: _V, b: _V, xor: bool = False) -> _V:
    if a.fl or b.fl:
        return _unk(a, b)
    if a.m == 0 and b.m == 0:
        return _c(int(a.lo) ^ int(b.lo) if xor else int(a.lo) | int(b.lo), a.ex and b.ex)
    if a.lo >= 0 and b.lo >= 0:
        top = max(a.hi, b.hi)
        hi = INF if top == INF else (1 << int(top).bit_length()) - 1
        return _V(0 if xor else max(a.lo, b.lo), hi, deps=a.deps | b.deps)
    return _unk(a, b)


def _cmp(op: str, a: _V, b: _V) -> Optional[bool]:
    if a.fl or b.fl:
        return None
    if op == "<":
        return True if a.hi < b.lo else False if a.lo >= b.hi else None
    if op == "<=":
        return True if a.hi <= b.lo else False if a.lo > b.hi else None
    if op in (">", ">="):
        return _cmp("<" if op == ">" else "<=", b, a)
    eq = (a.lo == b.lo) if a.m == 0 and b.m == 0 else False if (a.hi < b.lo or b.hi < a.lo) else None
    return eq if op == "==" or eq is None else not eq


def _truth(v) -> Optional[bool]:
    if isinstance(v, _P):
        return True
    if v.fl:
        return None
    return True if v.lo > 0 or v.hi < 0 else False if v.lo == v.hi == 0 else None


_ARITH = {"+": _add, "-": lambda a, b: _add(a, _neg(b)), "*": _mul, "/": _div, "%": _mod, "<<": _shl, ">>": _shr,
          "&": _band, "|": _bor, "^": lambda a, b: _bor(a, b, True)}
_CMPS = {"<", "<=", ">", ">=", "==", "!="}
_NEG = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_SWAP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class _Buf:
    __slots__ = ("name", "nbytes", "unit", "abi")

    def __init__(self, name: str, nbytes: Optional[int], unit: int, abi: bool):
        self.name, self.nbytes, self.unit, self.abi = name, nbytes, max(1, unit), abi


class _P:
    """A pointer: byte offset interval into a buffer (None: unknown), pointee size, array dims left."""
    __slots__ = ("buf", "off", "es", "dims", "chk", "cond", "quot", "did")

    def __init__(self, buf, off: _V, es: int, dims: tuple = (), chk: tuple = ()):
        self.buf, self.off, self.es, self.dims, self.chk = buf, off, max(1, es), dims, chk
        self.cond = self.quot = None
        self.did = 0


def _hull(items: list):
    """Join of values from several paths: [(value, path understood)]."""
    vals = [v for v, _ in items]
    v0 = vals[0]
    if all(v is v0 for v in vals):
        return v0
    if all(isinstance(v, _P) for v in vals):
        if all(v.buf is v0.buf and v.es == v0.es and v.dims == v0.dims for v in vals):
            off = _hull([(v.off, u) for v, u in items])
            return _P(v0.buf, off, v0.es, v0.dims, v0.chk if all(v.chk == v0.chk for v in vals) else ())
        return _P(None, _U, v0.es)
    if not all(isinstance(v, _V) for v in vals):
        return _unk(*vals)
    lo, hi = min(v.lo for v in vals), max(v.hi for v in vals)
    ex = any(u and v.ex and v.lo == lo for v, u in items) and any(u and v.ex and v.hi == hi for v, u in items)
    m = 0
    for v in vals:
        m = math.gcd(math.gcd(m, v.m), int(abs(v.r - v0.r)))
    out = _V(lo, hi, ex, False, m, v0.r, _NOD.union(*[v.deps for v in vals]), fl=any(v.fl for v in vals))
    out.ident = v0.ident if all(v.ident == v0.ident for v in vals) else None
    return out


def _within(new, old) -> bool:
    if isinstance(new, _V) and isinstance(old, _V):
        return new.lo >= old.lo and new.hi <= old.hi and new.fl == old.fl
    if isinstance(new, _P) and isinstance(old, _P):
        return new.buf is old.buf and _within(new.off, old.off)
    return False


def _widen(old, new):
    if isinstance(new, _V) and isinstance(old, _V):
        return _V(old.lo if new.lo >= old.lo else -INF, old.hi if new.hi <= old.hi else INF, m=new.m, r=new.r,
                  deps=new.deps | _DATA, fl=new.fl or old.fl)
    if isinstance(new, _P) and isinstance(old, _P) and new.buf is old.buf:
        return _P(new.buf, _widen(old.off, new.off), new.es, new.dims, ())
    return _P(None, _U, 4) if isinstance(new, _P) else _V(deps=_DATA)


class _Env:
    """Abstract state of the work-items on one path."""
    __slots__ = ("vars", "bases", "taint", "facts", "gok", "fok", "exits")

    def __init__(self):
        self.vars, self.bases, self.facts, self.taint = {}, {}, {}, {}  # taint: dependency -> constraining term
        self.gok, self.fok, self.exits = True, True, 0

    def copy(self) -> "_Env":
        e = _Env.__new__(_Env)
        e.vars, e.bases, e.facts, e.taint = dict(self.vars), dict(self.bases), dict(self.facts), dict(self.taint)
        e.gok, e.fok, e.exits = self.gok, self.fok, self.exits
        return e


# ------------------------------------------------------------------ the analysis of one launch
_ID_FUNCS = {"get_global_id": "gid", "get_local_id": "lid", "get_group_id": "grp", "get_global_size": "gsz",
             "get_local_size": "lsz", "get_enqueued_local_size": "lsz", "get_num_groups": "ngr",
             "get_global_offset": "zero"}
_CUDA_IDS = {"threadIdx": "lid", "blockIdx": "grp", "blockDim": "lsz", "gridDim": "ngr"}
_NAMED = {"true": _c(1), "false": _c(0), "NULL": _c(0), "nullptr": _c(0), "warpSize": _c(32)}
_VMEM = re.compile(r"(vload|vstore)(a?_half)?(\d*)(_rt[enzp])?$")
_ATOMIC = re.compile(r"(atomic|atom)(_\w+|[A-Z]\w*)$")
_LDST = {"__ldg": 0, "__ldcg": 0, "__ldca": 0, "__ldcs": 0, "__ldlu": 0, "__ldcv": 0,
         "__stcg": 1, "__stcs": 1, "__stwb": 1, "__stwt": 1}
_OUT_PTR = {"fract", "modf", "sincos", "sincosf", "sincospi", "sincospif", "frexp", "frexpf", "lgamma_r", "remquo",
            "remquof", "modff", "fractf"}
_NO_MEM = {"printf", "prefetch", "barrier", "work_group_barrier", "mem_fence", "read_mem_fence", "write_mem_fence",
           "__syncthreads", "__syncwarp", "wait_group_events", "__threadfence", "__threadfence_block"}
_INT_FUNCS = {"min", "max", "umin", "umax", "imin", "imax", "llmin", "llmax", "ullmin", "ullmax", "clamp", "abs",
              "labs", "llabs", "mad24", "mul24", "__mul24", "__umul24", "mad", "select", "get_work_dim"}
_MAX_STEPS = 1_500_000


class _Eval:
    """Expressions, accesses and calls; `_Run` adds guards, statements and loops."""

    def __init__(self, prog, launch: Optional[Launch], target: str, out, smem: Optional[int] = None):
        self.prog, self.L, self.target, self.out, self.smem = prog, launch, target, out, smem
        self.quiet = self.crude = self.nid = self.steps = self.nloop = 0
        self.ctl: list = []
        self.rets: list = []
        self.calls: list = []
        self.vtypes: Dict[str, _Type] = {}
        self.refs: Dict[str, str] = {}
        self.effects_cache: Dict[int, bool] = {}
        self.scan_cache: Dict[Tuple[int, str], object] = {}
        g = tuple(int(x) for x in launch.global_size) if launch else (1,)
        self.dims = len(g)
        self.G = (g + (1, 1, 1))[:3]
        loc = launch.local_size if launch else None
        self.Lc = (tuple(int(x) for x in loc) + (1, 1, 1))[:3] if loc else None
        ints = [f"{a.name}={a.value}" for a in (launch.args if launch else ())
                if a.kind == "int" and a.value is not None and a.name]
        self.where = "at " + ", ".join(ints + [f"global={g}"] + ([f"local={tuple(loc)}"] if loc else []))

    # ---- helpers
    def fresh(self) -> int:
        self.nid += 1
        return self.nid

    def key(self, n: _Node, env: _Env) -> tuple:
        return (n.key,) + tuple(getattr(env.vars.get(x), "did", 0) for x in n.names)

    def qev(self, n: _Node, env: _Env):
        self.quiet += 1
        try:
            return self.ev(n, env)
        finally:
            self.quiet -= 1

    def const(self, n: _Node, env: _Env) -> Optional[int]:
        if n.k == "num":
            return n.v
        if self.effects(n):
            return None
        v = self.qev(n, env)
        return v.lo if isinstance(v, _V) and v.m == 0 and not v.fl else None

    def effects(self, n) -> bool:
        if not isinstance(n, _Node):
            return False
        r = self.effects_cache.get(id(n))
        if r is None:
            r = n.k in ("asg", "post") or (n.k == "addr" and n.a[0].k == "id") or \
                any(self.effects(c) for c in n.a)
            self.effects_cache[id(n)] = r
        return r

    def reads_memory(self, n) -> bool:
        if not isinstance(n, _Node):
            return False
        k = (id(n), "mem")
        if k not in self.scan_cache:
            self.scan_cache[k] = n.k in ("idx", "deref") or (n.k == "mem" and n.v == "->") or \
                (n.k == "call" and not (n.v in _ID_FUNCS or n.v in _INT_FUNCS)) or \
                any(self.reads_memory(c) for c in n.a)
        return self.scan_cache[k]

    def scan(self, n, what: str):
        """Syntactic facts of a statement: 'mod' (names assigned), 'ret' (return/goto/bad inside),
        'brk' (leaves the enclosing loop early: break at this level, return, goto)."""
        k = (id(n), what)
        if k not in self.scan_cache:
            self.scan_cache[k] = self._scan(n, what, set())
        return self.scan_cache[k]

    def _scan(self, n, what: str, acc: set):
        if not isinstance(n, _Node):
            return acc if what == "mod" else False
        if what == "mod":
            if n.k in ("asg", "post") or (n.k == "addr"):
                t = n.a[0]
                while t.k in ("cast", "mem") and t.a:
                    t = t.a[0]
                if t.k == "id":
                    acc.add(t.v)
            for c in n.a:
                self._scan(c, what, acc)
            return acc
        if n.k in ("return", "goto", "bad") or (what == "brk" and n.k == "break"):
            return True
        if what == "brk" and n.k in ("for", "while", "do", "switch"):
            return self.scan(n, "ret")
        return any(self._scan(c, what, acc) for c in n.a)

    def text(self, n: _Node) -> str:
        toks = self.prog.toks
        if not (0 <= n.s < n.e <= len(toks)):
            return "?"
        a, b = toks[n.s][3], toks[n.e - 1][4]
        t = self.prog.src[a:b] if b > a else " ".join(x[1] for x in toks[n.s:n.e])
        t = " ".join(t.split())
        return t if len(t) <= 80 else t[:77] + "..."

    # ---- findings
    def finding(self, write: bool, severity: str, n: _Node, buf: str, msg: str) -> None:
        if self.quiet:
            return
        code = f"mem.{'oob' if severity == 'error' else 'unproven'}-{'write' if write else 'read'}"
        if self.calls:
            msg += f" (in {self.calls[-1][0]}() called at line {self.calls[0][1]})"
        findings = self.out[0]
        k = (self.L.kernel, n.line, buf, write)
        old = findings.get(k)
        if old is None or (old.severity == "warning" and severity == "error"):
            findings[k] = MemFinding(code, severity, msg, n.line, self.L.kernel, buf)

    def note_reach(self, buf: _Buf, lo, hi) -> None:
        if not buf.abi or self.quiet:
            return
        lo = None if lo == -INF else int(lo) // buf.unit
        hi = None if hi == INF else int(hi) // buf.unit
        old = self.out[1].get(buf.name)
        if old is not None:
            lo = None if lo is None or old[0] is None else min(lo, old[0])
            hi = None if hi is None or old[1] is None else max(hi, old[1])
        self.out[1][buf.name] = (lo, hi)

    def lost(self, p, n: _Node, write: bool, why: str) -> None:
        """An access the analysis cannot bound."""
        buf = p.buf if isinstance(p, _P) else None
        if buf is not None:
            self.note_reach(buf, -INF, INF)
        self.finding(write, "warning", n, buf.name if buf else "?",
                     f"{'write' if write else 'read'} {self.text(n)}: {why}; not proven in bounds ({self.where})")

    def access(self, p: Optional[_P], nbytes: int, write: bool, n: _Node, env: _Env) -> None:
        if self.quiet:
            return
        if p is None or p.buf is None:
            return self.lost(p, n, write, "through a pointer the analysis cannot follow")
        buf, rw = p.buf, "write" if write else "read"
        lo, hi = p.off.lo, p.off.hi + nbytes - 1
        self.note_reach(buf, lo, hi)
        sure = env.gok and env.fok
        for iv, dim in p.chk:
            if iv.lo < 0 or iv.hi > dim - 1:
                bad = iv.lo if iv.lo < 0 else iv.hi
                err = sure and iv.ex and bad not in (INF, -INF)
                return self.finding(write, "error" if err else "warning", n, buf.name,
                                    f"{rw} {self.text(n)}: an index {'can' if err else 'may'} reach {_fmt(bad)}, "
                                    f"outside a dimension of {buf.name} that has {dim} elements ({self.where})")
        if buf.nbytes is None:
            return self.lost(p, n, write, f"the size of {buf.name} is unknown")
        if lo >= 0 and hi <= buf.nbytes - 1:
            return None
        bad = lo if lo < 0 else hi
        count = buf.nbytes // buf.unit
        el = _fmt(bad if bad in (INF, -INF) else int(bad) // buf.unit)
        if sure and p.off.ex and abs(bad) < 2 ** 31 * buf.unit:
            return self.finding(write, "error", n, buf.name,
                                f"{rw} {self.text(n)} can reach element {el}; {buf.name} has {count} elements "
                                f"({self.where})")
        why = "" if sure else ", under a condition the analysis does not follow"
        self.finding(write, "warning", n, buf.name, f"{rw} {self.text(n)} may reach element {el}{why}; cannot "
                                                     f"prove it stays within the {count} elements of {buf.name} "
                                                     f"({self.where})")

    # ---- expressions
    def ev(self, n: _Node, env: _Env):
        self.steps += 1
        if self.steps > _MAX_STEPS:
            raise _Stop("analysis budget exhausted")
        v = getattr(self, "e_" + n.k)(n, env)
        if env.facts and isinstance(v, _V) and n.k in ("bin", "call", "cast", "un", "mem"):
            f = env.facts.get(self.key(n, env))
            if f is not None:
                return f
        return v

    def e_num(self, n, env):
        return _c(n.v) if isinstance(n.v, int) else _F

    def e_unk(self, n, env):
        return _U

    def e_init(self, n, env):
        for x in n.a:
            self.ev(x, env)
        return _U

    def e_id(self, n, env):
        v = env.vars.get(n.v)
        return v if v is not None else _NAMED.get(n.v, _V(deps=_DATA))

    def e_comma(self, n, env):
        self.ev(n.a[0], env)
        return self.ev(n.a[1], env)

    def arith(self, op: str, a, b):
        if isinstance(a, _P) or isinstance(b, _P):
            if op == "+" and isinstance(b, _V) and isinstance(a, _P):
                return self.padd(a, b)
            if op == "+" and isinstance(a, _V) and isinstance(b, _P):
                return self.padd(b, a)
            if op == "-" and isinstance(a, _P) and isinstance(b, _V):
                return self.padd(a, _neg(b))
            return _V(deps=_DATA) if op not in _CMPS else _V(0, 1, deps=_DATA)
        if op in _CMPS:
            d = _cmp(op, a, b)
            return _V(0, 1, deps=a.deps | b.deps) if d is None else _c(int(d))
        return _ARITH[op](a, b)

    def padd(self, p: _P, i: _V) -> _P:
        stride = p.es * math.prod(d or 1 for d in p.dims[1:])
        return _P(p.buf, _add(p.off, _mul(i, _c(stride))), stride, (), p.chk if not p.dims else ())

    def e_bin(self, n, env):
        op, (l, r) = n.v, n.a
        if op == "-" and r.k == "bin" and r.v == "*":  # x - (x / d) * d is x % d
            a, f, g = self.ev(l, env), self.ev(r.a[0], env), self.ev(r.a[1], env)
            if isinstance(a, _V) and isinstance(f, _V) and isinstance(g, _V):
                for q, c in ((f, g), (g, f)):
                    if q.quot is not None and c.m == 0 and q.quot == (self.key(l, env), c.lo):
                        return _mod(a, c)
            return self.arith("-", a, self.arith("*", f, g))
        if op in ("+", "-") and env.facts:
            v = self.lin_sum(n, env)
            if v is not None:
                return v
        a, b = self.ev(l, env), self.ev(r, env)
        v = self.arith(op, a, b)
        if op == "/" and isinstance(v, _V) and isinstance(b, _V) and b.m == 0 and not v.fl:
            v = _cp(v, quot=(self.key(l, env), b.lo))
        return v

    def flat(self, n: _Node, sign: int = 1) -> list:
        """The signed operands of a + / - chain."""
        if n.k == "bin" and n.v in ("+", "-"):
            return self.flat(n.a[0], sign) + self.flat(n.a[1], sign if n.v == "+" else -sign)
        return [(sign, n)]

    def lin_key(self, ops: list, env: _Env) -> tuple:
        return ("lin",) + tuple(sorted((sg, self.key(x, env)) for sg, x in ops if x.k != "num"))

    def lin_sum(self, n: _Node, env: _Env):
        """A sum whose operands include those of a refined sum (a `lin` fact) uses the fact."""
        facts = [(k, v) for k, v in env.facts.items() if k[0] == "lin"]
        if not facts:
            return None
        ops = self.flat(n)
        keys = [(sg, self.key(x, env)) for sg, x in ops]
        used: set = set()
        acc = None
        for fk, fv in sorted(facts, key=lambda kv: -len(kv[0])):
            pick = []
            for want in fk[1:]:
                j = next((j for j, k in enumerate(keys) if k == want and j not in used and j not in pick), None)
                if j is None:
                    break
                pick.append(j)
            else:
                used.update(pick)
                acc = fv if acc is None else _add(acc, fv)
        if acc is None:
            return None
        for j, (sg, x) in enumerate(ops):
            v = self.ev(x, env)
            if j not in used:
                acc = self.arith("+" if sg > 0 else "-", acc, v)
        return acc

    def e_log(self, n, env):
        l, r = n.a
        conj = n.v == "&&"
        a = self.ev(l, env)
        ta = _truth(a) if isinstance(a, (_V, _P)) else None
        eb = self.refine(env, l, conj)
        vb = None
        if eb is not None and self.effects(r):
            eb = eb if eb is not env else env.copy()
            vb = self.ev(r, eb)
            self.assign_env(env, self.join(env, [eb, self.refine(env, l, not conj)], False))
        elif eb is not None:
            vb = self.ev(r, eb)
        tb = _truth(vb) if isinstance(vb, (_V, _P)) else None
        b = _V(0, 1, deps=_NOD.union(*[x.deps for x in (a, vb) if isinstance(x, _V)]))
        if conj:
            return _c(0) if ta is False or tb is False else _c(1) if ta and tb else b
        return _c(1) if ta or tb else _c(0) if ta is False and tb is False else b

    @staticmethod
    def assign_env(env: _Env, other: Optional[_Env]) -> None:
        if other is not None and other is not env:
            for s in _Env.__slots__:
                setattr(env, s, getattr(other, s))

    def e_tern(self, n, env):
        c, a, b = n.a
        self.ev(c, env)
        te, fe = self.refine(env, c, True), self.refine(env, c, False)
        if self.effects(a) or self.effects(b):
            te = te.copy() if te is env else te
            fe = fe.copy() if fe is env else fe
        va = self.ev(a, te) if te is not None else None
        vb = self.ev(b, fe) if fe is not None else None
        if self.effects(a) or self.effects(b):
            self.assign_env(env, self.join(env, [te, fe], False))
        items = [(v, e.gok and e.fok) for v, e in ((va, te), (vb, fe)) if e is not None]
        if not items:
            return _U
        v = _hull(items)
        if len(items) > 1 and isinstance(v, _V):
            cv = self.qev(c, env)
            v = _cp(v, deps=v.deps | (cv.deps if isinstance(cv, _V) else _DATA), ex=False, dn=False)
        return v

    def e_un(self, n, env):
        v = self.ev(n.a[0], env)
        if not isinstance(v, _V):
            return _c(0) if n.v == "!" else _U
        if n.v == "-":
            return _neg(v)
        if n.v == "~":
            return _add(_neg(v), _c(-1)) if not v.fl else _unk(v)
        if n.v == "!":
            t = _truth(v)
            return _V(0, 1, deps=v.deps) if t is None else _c(int(not t))
        return v

    def e_asg(self, n, env):
        l = n.a[0]
        if n.v == "=":
            val = self.ev(n.a[1], env)
        elif l.k == "id":
            val = self.ev(n.a[2], env)
        else:
            old = self.qev(l, env)
            rhs = self.ev(n.a[1], env)
            val = self.arith(n.v[:-1] if n.v not in ("++", "--") else n.v[0], old, rhs) \
                if n.v[:-1] in _ARITH or n.v in ("++", "--") else _unk(old, rhs)
        self.store(l, val, env, n.a[1] if n.v == "=" else None)
        return val

    def e_post(self, n, env):
        val = self.e_asg(_Node("asg", n.v, (n.a[0], n.a[0], n.a[1]), n.line, n.s, n.e), env)
        return self.arith("-" if n.v == "++" else "+", val, _c(1)) if isinstance(val, _V) else val

    def e_cast(self, n, env):
        t, v = n.v, self.ev(n.a[0], env)
        if t.kind == "ptr":
            return _P(v.buf, v.off, t.size, (), v.chk) if isinstance(v, _P) and t.size else _P(None, _U, t.size)
        if isinstance(v, _P):
            return _V(deps=_DATA)
        if t.kind == "int":
            return _narrow(v, t) if not v.fl else _unk(v)
        return _unk(v, fl=True)

    def e_field(self, n, env):
        return _U

    def e_mem(self, n, env):
        base, fld = n.a[0], n.a[1].v
        if base.k == "id" and base.v in _CUDA_IDS and base.v not in env.vars and fld in ("x", "y", "z"):
            return self.ids(_CUDA_IDS[base.v], "xyz".index(fld), env)
        if n.v == "->":
            p = self.ev(base, env)
            return self.load(p if isinstance(p, _P) else None, n, env)
        return _unk(self.ev(base, env), fl=True)

    def e_deref(self, n, env):
        p = self.ev(n.a[0], env)
        return self.load(p if isinstance(p, _P) else None, n, env)

    def e_idx(self, n, env):
        return self.load(self.lval(n, env), n, env)

    def e_addr(self, n, env):
        x = n.a[0]
        if x.k == "id":
            v = env.vars.get(x.v)
            if isinstance(v, _P) and v.dims:
                return v
            t = self.vtypes.get(x.v)
            size = t.size if t else 4
            if x.v in env.vars:
                self.setvar(x.v, _V(deps=_DATA, fl=bool(t and t.kind != "int")), env)
            return _P(_Buf(x.v, size, size, False), _c(0), size)
        p = self.lval(x, env)
        return p if p is not None else _P(None, _U, 4)

    def lval(self, n: _Node, env: _Env) -> Optional[_P]:
        if n.k == "idx":
            base, i = self.ev(n.a[0], env), self.ev(n.a[1], env)
            if isinstance(i, _P) and isinstance(base, _V):
                base, i = i, base
            if not isinstance(base, _P):
                return None
            return self.index(base, i if isinstance(i, _V) else _U)
        if n.k in ("deref", "mem") and (n.k == "deref" or n.v == "->"):
            p = self.ev(n.a[0], env)
            return p if isinstance(p, _P) else None
        if n.k == "mem" and n.a[0].k in ("idx", "deref", "mem"):
            return self.lval(n.a[0], env)
        return None

    def index(self, p: _P, i: _V) -> _P:
        if i.fl:
            i = _unk(i)
        if p.dims:
            stride = p.es * math.prod(d or 1 for d in p.dims[1:])
            chk = p.chk + ((i, p.dims[0]),) if p.dims[0] else p.chk
            return _P(p.buf, _add(p.off, _mul(i, _c(stride))), p.es, p.dims[1:], chk)
        return _P(p.buf, _add(p.off, _mul(i, _c(p.es))), p.es, (), p.chk)

    def load(self, p: Optional[_P], n: _Node, env: _Env):
        if p is None:
            if not self.quiet:
                self.lost(None, n, False, "the indexed value is not a pointer the analysis can follow")
            return _V(deps=_DATA, fl=True)
        if p.dims:
            return p
        self.access(p, p.es, False, n, env)
        return _V(deps=p.off.deps | _DATA, fl=True)

    def store(self, l: _Node, val, env: _Env, rhs: Optional[_Node]) -> None:
        while l.k == "cast":
            l = l.a[0]
        if l.k == "id":
            return self.setvar(l.v, val, env, rhs)
        if l.k == "mem" and l.v == "." and l.a[0].k == "id":
            t = self.vtypes.get(l.a[0].v)
            if l.a[0].v in env.vars:
                self.setvar(l.a[0].v, _V(deps=_DATA, fl=not (t and t.kind == "int")), env)
            return None
        p = self.lval(l, env)
        if p is None:
            return self.lost(None, l, True, "the target is not a pointer the analysis can follow")
        if not p.dims:
            self.access(p, p.es, True, l, env)
        return None

    def setvar(self, name: str, val, env: _Env, rhs: Optional[_Node] = None) -> None:
        t = self.vtypes.get(name)
        if t is not None and t.kind == "ptr":
            val = val if isinstance(val, _P) else _P(None, _U, t.size)
            v = _P(val.buf, val.off, val.es, val.dims, val.chk)
        else:
            if not isinstance(val, _V):
                val = _V(deps=_DATA)
            if t is not None and t.kind == "ref":
                val = _V(deps=_DATA, fl=True)
            elif t is not None and t.kind != "int" and not val.fl:
                val = _unk(val, fl=True)
            elif t is not None and t.kind == "int":
                val = _unk(val) if val.fl else _narrow(val, t)
            v = _cp(val)
            if rhs is not None and (rhs.k == "log" or (rhs.k == "bin" and rhs.v in _CMPS) or
                                    (rhs.k == "un" and rhs.v == "!")):
                v.cond = (rhs, self.key(rhs, env))
        v.did = self.fresh()
        env.vars[name] = v
        if self.refs.get(name) in env.vars:
            env.vars[self.refs[name]] = _V(deps=_DATA, fl=True)

    # ---- calls
    def ids(self, kind: str, d: Optional[int], env: _Env) -> _V:
        if d is None or not 0 <= d < 3:
            return _V(0, max(self.G) - 1) if kind in ("gid", "lid", "grp") else _V(1, max(self.G))
        g, loc = self.G[d], (self.Lc[d] if self.Lc else None)
        even = loc is not None and g % loc == 0
        if kind == "gsz":
            return _c(g)
        if kind == "lsz":
            return _c(loc) if loc else _V(1, max(g, 1))
        if kind == "ngr":
            return _c(-(-g // loc)) if loc else _V(1, max(g, 1))
        if kind == "zero":
            return _c(0)
        ident = f"{kind}{d}"
        if ident in env.bases:
            return env.bases[ident]
        if kind == "gid":
            v = _V(0, g - 1, True, True, deps=frozenset({f"g{d}", f"l{d}"}), ident=ident)
        elif kind == "lid":
            v = _V(0, (loc or g) - 1, even, even, deps=frozenset({f"l{d}"}), ident=ident)
        else:
            v = _V(0, (-(-g // loc) if loc else g) - 1, even, even, deps=frozenset({f"g{d}"}), ident=ident)
        return _cp(v, ex=False) if v.deps & env.taint.keys() else v

    def e_call(self, n, env):
        name, args = n.v, n.a[1:]
        funcs = self.prog.funcs if self.prog is not None else {}
        if name in _ID_FUNCS and name not in funcs:
            d = self.ev(args[0], env) if args else _c(0)
            return self.ids(_ID_FUNCS[name], int(d.lo) if isinstance(d, _V) and d.m == 0 else None, env)
        if name in funcs:
            return self.inline(name, args, env, n)
        vals = [self.ev(a, env) for a in args]
        r = self.mem_call(name or "", vals, n, env)
        if r is not None:
            return r
        if name in _INT_FUNCS:
            return self.int_call(name, vals)
        if name in ("__builtin_assume_aligned",) and vals:
            return vals[0]
        if name not in _NO_MEM:
            for v in vals:
                if isinstance(v, _P):
                    self.lost(v, n, True, f"a pointer is passed to {name or 'a function'}() which the analysis "
                                          f"does not follow")
        return _unk(*vals, fl=True)

    def mem_call(self, name: str, vals: list, n: _Node, env: _Env):
        m = _VMEM.match(name)
        if m and len(vals) >= 2:
            load = m.group(1) == "vload"
            lanes = int(m.group(3) or 1)
            p, i = (vals[1], vals[0]) if load else (vals[2] if len(vals) > 2 else None, vals[1])
            if not isinstance(p, _P) or not isinstance(i, _V):
                self.lost(p, n, not load, "through a pointer the analysis cannot follow")
            else:
                q = _P(p.buf, _add(p.off, _mul(_unk(i) if i.fl else i, _c(lanes * p.es))), lanes * p.es, (), p.chk)
                self.access(q, lanes * p.es, not load, n, env)
            return _V(deps=_DATA, fl=True)
        if (_ATOMIC.match(name) or name in _LDST or name in _OUT_PTR) and vals:
            ptrs = [v for v in vals if isinstance(v, _P)] if name in _OUT_PTR else vals[:1]
            write = _LDST.get(name, 1) == 1 and "load" not in name
            for p in ptrs:
                if isinstance(p, _P):
                    self.access(p if not p.dims else self.index(p, _c(0)), p.es, write, n, env)
            return _V(deps=_DATA) if name not in _OUT_PTR else _F
        if name in ("async_work_group_copy", "async_work_group_strided_copy", "memcpy", "memset") and \
                len(vals) >= 3 and isinstance(vals[2], _V):
            for k, p in enumerate(vals[:2]):
                if not isinstance(p, _P):
                    continue
                count = vals[2] if name != "memset" else vals[2]
                es = 1 if name in ("memcpy", "memset") else p.es
                if name == "async_work_group_strided_copy" and p.buf is not None and p.buf.abi and len(vals) > 3:
                    count = _add(_mul(_add(vals[2], _c(-1)), vals[3]), _c(1))
                span = _add(p.off, _mul(_add(count, _c(-1)), _c(es)))
                self.access(_P(p.buf, _hull([(p.off, False), (span, False)]), es), es, k == 0, n, env)
                if name == "memset":
                    break
            return _V(deps=_DATA)
        return None

    def int_call(self, name: str, vals: list) -> _V:
        v = [x if isinstance(x, _V) else _V(deps=_DATA) for x in vals]
        if name == "get_work_dim":
            return _c(self.dims)
        if any(x.fl for x in v) or not v:
            return _unk(*v, fl=True)
        if name.endswith("min") or name.endswith("max"):
            return _minmax(v[0], v[1], name.endswith("min")) if len(v) == 2 else _unk(*v)
        if name == "clamp" and len(v) == 3:
            return _minmax(_minmax(v[0], v[1], False), v[2], True)
        if name in ("abs", "labs", "llabs"):
            a = v[0]
            return a if a.lo >= 0 else _neg(a) if a.hi <= 0 else _V(0, max(-a.lo, a.hi), deps=a.deps)
        if name in ("mad24", "mad") and len(v) == 3:
            return _add(_mul(v[0], v[1]), v[2])
        if name in ("mul24", "__mul24", "__umul24") and len(v) == 2:
            return _mul(v[0], v[1])
        if name == "select" and len(v) == 3:
            return _cp(_hull([(v[0], False), (v[1], False)]), deps=v[0].deps | v[1].deps | v[2].deps)
        return _unk(*v)

    def inline(self, name: str, args: tuple, env: _Env, n: _Node):
        vals = [self.ev(a, env) for a in args]
        fn = self.prog.funcs[name]
        body = self.prog.body(fn)
        if body is None or len(self.calls) >= 8 or any(c[0] == name for c in self.calls):
            for v in vals:
                if isinstance(v, _P):
                    self.lost(v, n, True, f"a pointer is passed to {name}() which the analysis cannot follow")
            return _V(deps=_DATA, fl=True)
        callee = _Env()
        callee.bases, callee.taint, callee.gok, callee.fok = env.bases, dict(env.taint), env.gok, env.fok
        saved = (self.vtypes, self.ctl)
        self.vtypes, self.ctl = {}, []
        for (pname, pt), v in zip(fn.params, vals):
            self.vtypes[pname] = pt
            self.setvar(pname, v, callee)
        self.calls.append((name, n.line))
        self.rets.append([])
        try:
            self.exec(body, callee)
        finally:
            rets = self.rets.pop()
            self.calls.pop()
            self.vtypes, self.ctl = saved
        if not rets:
            return _V(deps=_DATA, fl=True)
        v = _hull([(r, False) for r in rets])
        return _cp(v, ex=False, dn=False) if isinstance(v, _V) else v


def _narrow(v: _V, t: _Type) -> _V:
    """The value converted to an integer type: unchanged when it fits, else the type's range."""
    bits = 8 * t.size
    lo, hi = (0, 2 ** bits - 1) if t.unsigned else (-2 ** (bits - 1), 2 ** (bits - 1) - 1)
    if lo <= v.lo and v.hi <= hi:
        return v
    if (t.size >= 4 and not t.unsigned) or (v.lo >= lo and v.hi == INF):  # overflow is UB / widened growth
        return _V(max(v.lo, lo), min(v.hi, hi), m=v.m, r=v.r, deps=v.deps)
    return _V(lo, hi, deps=v.deps)


def _minmax(a: _V, b: _V, low: bool) -> _V:
    f = min if low else max
    ex = a.ex and b.ex and not (a.deps & b.deps)
    dn = (a.dn and b.m == 0 and b.ex) or (b.dn and a.m == 0 and a.ex)
    return _V(f(a.lo, b.lo), f(a.hi, b.hi), ex, dn, deps=a.deps | b.deps)


def _fmt(x) -> str:
    return "-infinity" if x == -INF else "infinity" if x == INF else str(int(x))


class _Run(_Eval):
    # ---- guards
    def refine(self, env: _Env, c: _Node, truth: bool) -> Optional[_Env]:
        """The state of the work-items for which `c` is `truth` (None: no such work-item)."""
        k = c.k
        if k == "un" and c.v == "!":
            return self.refine(env, c.a[0], not truth)
        if k == "log":
            if (c.v == "&&") == truth:
                e = self.refine(env, c.a[0], truth)
                return self.refine(e, c.a[1], truth) if e is not None else None
            e1 = self.refine(env, c.a[0], truth)
            e2 = self.refine(env, c.a[0], not truth)
            e2 = self.refine(e2, c.a[1], truth) if e2 is not None else None
            return self.join(env, [e1, e2], False)
        if self.effects(c) or k == "comma":
            return self.vague(env)
        if k == "bin" and c.v in _CMPS:
            return self.refine_cmp(env, c, c.v if truth else _NEG[c.v])
        if k == "cast" and c.v.kind == "int":
            return self.refine(env, c.a[0], truth)
        v = self.qev(c, env)
        t = _truth(v)
        if t is not None:
            return env if t == truth else None
        if k == "id" and v.cond is not None and self.key(v.cond[0], env) == v.cond[1]:
            e = self.refine(env, v.cond[0], truth)
            return None if e is None else self.refine_cmp(e, _Node("bin", "!=", (c, _Node("num", 0, (), 0)), 0),
                                                          "!=" if truth else "==")
        return self.refine_cmp(env, _Node("bin", "!=", (c, _Node("num", 0, (), 0)), c.line, c.s, c.e),
                               "!=" if truth else "==")

    def vague(self, env: _Env) -> _Env:
        e = env.copy()
        e.gok = False
        return e

    def refine_cmp(self, env: _Env, c: _Node, op: str) -> Optional[_Env]:
        l, r = c.a
        lv, rv = self.qev(l, env), self.qev(r, env)
        if not (isinstance(lv, _V) and isinstance(rv, _V)):
            return self.vague(env)
        if (lv.lo < 0 or rv.lo < 0) and (self.unsigned(l, env) or self.unsigned(r, env)):
            # an unsigned comparison of a possibly negative value: only `x < B` with B >= 0 is followed
            side = (l, op, rv) if op in ("<", "<=") and rv.lo >= 0 else \
                (r, _SWAP[op], lv) if op in (">", ">=") and lv.lo >= 0 else None
            if side is None:
                return self.vague(env)
            e = env.copy()
            s1 = self.refine_side(e, *side, nonneg=True)
            if s1 != "refined":
                e.gok = False
            return None if s1 == "empty" else e
        d = _cmp(op, lv, rv)
        if d is None and l.key == r.key and self.key(l, env) == self.key(r, env) and not self.reads_memory(l):
            d = op in ("<=", ">=", "==")  # x op x
        if d is not None:
            return env if d else None
        e = env.copy()
        s1 = self.refine_side(e, l, op, rv)
        s2 = self.refine_side(e, r, _SWAP[op], lv) if s1 != "empty" else s1
        if "empty" in (s1, s2):
            return None
        if "vague" in (s1, s2) or "unsure" in (s1, s2) or "refined" not in (s1, s2):
            e.gok = False
        return e

    def unsigned(self, n: _Node, env: _Env) -> bool:
        """C type of n is unsigned (casts, declarations, size_t builtins, CUDA ids, `u` literals)."""
        k = n.k
        if k == "cast":
            return n.v.unsigned
        if k == "id":
            t = self.vtypes.get(n.v)
            return bool(t and t.unsigned)
        if k == "num":
            return 0 <= n.s < len(self.prog.toks) and "u" in self.prog.toks[n.s][1].lower()
        if k == "call":
            return n.v in _ID_FUNCS
        if k == "mem":
            return n.a[0].k == "id" and n.a[0].v in _CUDA_IDS
        if k in ("bin", "tern") and n.v not in _CMPS:
            return any(self.unsigned(x, env) for x in n.a[-2:])
        return False

    def refine_side(self, e: _Env, node: _Node, op: str, bound: _V, nonneg: bool = False) -> str:
        """Refine the term of node = a * t + b by `node op bound` (and node >= 0 when nonneg)."""
        while node.k == "cast" and node.v.kind == "int":
            inner = self.qev(node.a[0], e)
            if isinstance(inner, _V) and _narrow(inner, node.v) is not inner:  # the conversion wraps
                if not (node.v.unsigned and op in ("<", "<=") and bound.lo >= 0):
                    return "vague"
                nonneg = True
            node = node.a[0]
        t, a, b = self.linear(node, e)
        if t is None:
            return "const"
        tv = self.qev(t, e)
        if not isinstance(tv, _V) or tv.fl or bound.fl:
            return "vague"
        lo, hi = tv.lo, tv.hi
        if nonneg:
            lo, hi = (max(lo, -_floor(b, a)), hi) if a > 0 else (lo, min(hi, _floor(b, -a)))
        if a < 0:
            a, b, op, bound = -a, -b, _SWAP[op], _neg(bound)
        if op in ("<", "<=", "=="):
            hi = min(hi, _floor(bound.hi - b - (op == "<"), a))
        if op in (">", ">=", "=="):
            lo = max(lo, -_floor(-(bound.lo - b + (op == ">")), a))
        if op == "!=" and bound.m == 0 and a == 1:
            lo, hi = (lo + 1, hi) if bound.lo - b == lo else (lo, hi - 1) if bound.lo - b == hi else (lo, hi)
        if lo <= hi and tv.m > 1:  # keep to the congruence class
            snap = _V(lo, hi, m=tv.m, r=tv.r)
            lo, hi = snap.lo, snap.hi
        if lo > hi:
            return "empty"
        if lo == tv.lo and hi == tv.hi:
            return "same" if not (tv.deps & _DATA or bound.deps & _DATA) else "vague"
        constb = bound.m == 0 and bound.ex
        nv = _cp(tv, lo=lo, hi=hi, ex=tv.ex and tv.dn and constb, dn=tv.dn and constb)
        keep = self.put(e, t, tv, nv)
        owner = tv.ident or (("var", t.v, tv.did) if t.k == "id" else self.key(t, e))
        deps = tv.deps | (_NOD if constb else bound.deps)
        # the work-items left are provably some: an attained value survives, the bound is independent,
        # and no other term constrained these dependencies before
        sure = (tv.dn or (tv.ex and (lo == tv.lo or hi == tv.hi))) and \
            (constb or (bound.ex and not tv.deps & bound.deps)) and \
            all(e.taint.get(d, owner) == owner for d in deps)
        self.taint(e, deps, keep, owner)
        return "vague" if (tv.deps | bound.deps) & _DATA else "refined" if sure else "unsure"

    def linear(self, n: _Node, env: _Env) -> tuple:
        """n == a * t + b for constants a != 0, b (t None: n is a constant)."""
        if n.k == "bin" and n.v in ("+", "-", "*"):
            x, y = n.a
            for p, q, first in ((x, y, True), (y, x, False)):
                c = self.const(q, env)
                if c is None:
                    continue
                t, a, b = self.linear(p, env)
                if t is None or (n.v == "*" and c == 0):
                    return None, 0, 0
                if n.v == "*":
                    return t, a * c, b * c
                if n.v == "+" or first:
                    return t, a, b + c if n.v == "+" else b - c
                return t, -a, c - b
        if self.const(n, env) is not None:
            return None, 0, 0
        return n, 1, 0

    def put(self, e: _Env, t: _Node, tv: _V, nv: _V) -> set:
        """Store the refined value of term t: into its variable, its aliases and base, or as a fact."""
        names = [t.v] if t.k == "id" and t.v in e.vars else []
        if tv.ident:
            names += [x for x, v in e.vars.items() if isinstance(v, _V) and v.ident == tv.ident and x not in names]
            e.bases[tv.ident] = _cp(nv, cond=None, quot=None, did=0)
        for x in names:
            old = e.vars[x]
            e.vars[x] = _cp(nv, cond=old.cond, quot=old.quot, did=old.did)
        if not names and not tv.ident:
            if self.reads_memory(t):  # memory may change: no fact about a load
                return set()
            k = self.key(t, e)
            e.facts[k] = nv
            if t.k == "bin" and t.v in ("+", "-"):
                ops = self.flat(t)
                shift = sum(sg * x.v for sg, x in ops if x.k == "num" and isinstance(x.v, int))
                if len(ops) - sum(x.k == "num" for _, x in ops) > 1 and all(
                        isinstance(x.v, int) for _, x in ops if x.k == "num"):
                    lk = self.lin_key(ops, e)
                    e.facts[lk] = _add(nv, _c(-shift)) if shift else nv
                    return {k, lk}
            return {k}
        return set(names) | {tv.ident}

    def taint(self, e: _Env, deps: frozenset, keep: set, owner=None) -> None:
        """Work-items were removed along `deps` (by term `owner`): values depending on them lose exactness."""
        if not deps:
            return
        for d in deps:
            e.taint[d] = owner if e.taint.get(d, owner) == owner else "*"
        for table in (e.vars, e.facts):
            for x, v in list(table.items()):
                if x in keep:
                    continue
                if isinstance(v, _V) and v.ex and v.deps & deps:
                    table[x] = _cp(v, ex=False, dn=False)
                elif isinstance(v, _P) and v.off.ex and v.off.deps & deps:
                    q = _P(v.buf, _cp(v.off, ex=False, dn=False), v.es, v.dims, v.chk)
                    q.did = v.did
                    table[x] = q
        for b, v in list(e.bases.items()):
            if v.deps & deps and b not in keep:
                e.bases[b] = _cp(v, ex=False, dn=False)

    def join(self, entry: _Env, parts: list, clean: bool) -> Optional[_Env]:
        """Merge paths. clean: together they are exactly the work-items of `entry` (same exits)."""
        parts = [p for p in parts if p is not None]
        if len(parts) <= 1:
            return parts[0] if parts else None
        out = _Env()
        u = [p.gok and p.fok for p in parts]
        names = set(parts[0].vars).intersection(*[p.vars for p in parts[1:]])
        for x in names:
            vs = [p.vars[x] for p in parts]
            v0 = vs[0]
            same = all(v.did == v0.did for v in vs)
            if clean and same and getattr(entry.vars.get(x), "did", -1) == v0.did:
                out.vars[x] = entry.vars[x]
                continue
            h = _hull(list(zip(vs, u)))
            if h is v0:
                out.vars[x] = v0
                continue
            if isinstance(h, _V) and not same:
                h = _cp(h, deps=h.deps | _DATA, ex=False, dn=False)
            h.did = v0.did if same else self.fresh()
            if same:
                h.cond, h.quot = v0.cond, v0.quot
            out.vars[x] = h
        if clean:
            out.bases, out.facts, out.taint = dict(entry.bases), dict(entry.facts), dict(entry.taint)
            out.gok = entry.gok
            out.fok, out.exits = entry.fok and all(p.fok for p in parts), entry.exits
            return out
        for attr in ("bases", "facts"):
            tables = [getattr(p, attr) for p in parts]
            common = set(tables[0]).intersection(*tables[1:])
            setattr(out, attr, {k: _hull([(t[k], ok) for t, ok in zip(tables, u)]) for k in common})
        out.taint = {}
        for p in parts:
            for d, o in p.taint.items():
                out.taint[d] = o if out.taint.get(d, o) == o else "*"
        out.gok, out.fok, out.exits = entry.gok, entry.fok and all(u), max(p.exits for p in parts) + 1
        return out

    # ---- statements
    def exec(self, s: Optional[_Node], env: Optional[_Env]) -> Optional[_Env]:
        if s is None or env is None:
            return env
        return getattr(self, "s_" + s.k)(s, env)

    def s_expr(self, s, env):
        self.ev(s.a[0], env)
        return env

    def s_nop(self, s, env):
        return env

    s_label = s_nop

    def s_bad(self, s, env):
        toks = self.prog.toks[s.s:s.e]
        for i, t in enumerate(toks):
            v = env.vars.get(t[1]) if t[0] == "id" else None
            if isinstance(v, _P):
                self.lost(v, s, True, "a statement the analysis cannot read uses it")
            elif v is not None and ((i + 1 < len(toks) and toks[i + 1][1] in _ASSIGN | {"++", "--"}) or
                                    (i > 0 and toks[i - 1][1] in ("++", "--", "&"))):
                self.setvar(t[1], _V(deps=_DATA), env)
        env.fok = False
        return env

    def s_block(self, s, env):
        saved: dict = {}
        taint0 = set(env.taint)
        for st in s.a:
            if st.k == "decl":
                for item in st.v:
                    saved.setdefault(item[0], env.vars.get(item[0]))
            env = self.exec(st, env)
            if env is None:
                return None
        self.restore(env, saved, taint0)
        return env

    @staticmethod
    def restore(env: _Env, saved: dict, taint0: set) -> None:
        """Bring back the variables a scope shadowed (they missed the refinements made meanwhile)."""
        for name, old in saved.items():
            if old is None:
                env.vars.pop(name, None)
                continue
            if isinstance(old, _V) and old.ident in env.bases:
                old = _cp(env.bases[old.ident], ident=old.ident, did=old.did, cond=old.cond, quot=old.quot)
            elif isinstance(old, _V) and old.ex and old.deps & (env.taint.keys() - taint0):
                old = _cp(old, ex=False, dn=False)
            elif isinstance(old, _P) and old.off.ex and old.off.deps & (env.taint.keys() - taint0):
                q = _P(old.buf, _cp(old.off, ex=False, dn=False), old.es, old.dims, old.chk)
                q.did, old = old.did, q
            env.vars[name] = old

    def s_decl(self, s, env):
        for name, t, dims, init, ext in s.v:
            if not dims:
                self.vtypes[name] = t
                val = self.ev(init, env) if init is not None else _V(deps=_DATA, fl=t.kind != "int")
                if t.kind == "ref":  # a C++ reference: both names become unknown, and stay tied
                    self.refs[name] = init.v if init is not None and init.k == "id" else ""
                    self.setvar(self.refs[name], val, env)
                self.setvar(name, val, env, init)
                continue
            dv = []
            for d in dims:
                x = self.ev(d, env) if d is not None else None
                dv.append(int(x.lo) if isinstance(x, _V) and x.m == 0 and x.lo >= 0 and not x.fl else None)
            if dv == [None] and init is not None and init.k == "init":
                dv = [len(init.a)]
            nbytes = t.size * math.prod(dv) if None not in dv and t.size else None
            if nbytes is None and dims == (None,) and ext and t.space == "local":
                nbytes, dv = self.smem, [None]
            if init is not None:
                self.ev(init, env)
            self.vtypes[name] = _Type("ptr", t.size, t.scalar, t.space)
            p = _P(_Buf(name, nbytes, t.size, False), _c(0), t.size, tuple(dv) if None not in dv else (), ())
            p.did = self.fresh()
            env.vars[name] = p
        return env

    def s_if(self, s, env):
        c, th, el = s.a
        self.ev(c, env)
        te, fe = self.refine(env, c, True), self.refine(env, c, False)
        if te is env and fe is not None:
            te = env.copy()
        to = self.exec(th, te)
        fo = self.exec(el, fe)
        t_exit, f_exit = te is not None and to is None, fe is not None and fo is None
        if (to is None) != (fo is None) and (t_exit or f_exit):
            survivor = to if to is not None else fo
            survivor.exits += 1
            return survivor
        return self.join(env, [to, fo], to is not None and fo is not None and to.exits == fo.exits == env.exits)

    def s_return(self, s, env):
        if s.a[0] is not None:
            v = self.ev(s.a[0], env)
            if self.rets:
                self.rets[-1].append(v)
        return None

    def s_goto(self, s, env):
        env.fok = False
        return env

    def s_break(self, s, env):
        if self.ctl:
            self.ctl[-1][1].append(env)
        return None

    def s_continue(self, s, env):
        for ctx in reversed(self.ctl):
            if ctx[0] == "loop":
                ctx[2].append(env)
                break
        return None

    def s_switch(self, s, env):
        c, body = s.a
        self.ev(c, env)
        entry = self.vague(env)
        self.ctl.append(["switch", [], []])
        cur: Optional[_Env] = entry.copy()
        try:
            for st in (body.a if body.k == "block" else (body,)):
                if st.k == "label":
                    cur = self.join(entry, [cur, entry.copy()], False)
                cur = self.exec(st, cur)
        finally:
            ctx = self.ctl.pop()
        return self.join(env, [env, cur] + ctx[1], False)

    def s_while(self, s, env):
        return self.loop(env, s.a[0], None, s.a[1], True, None)

    def s_do(self, s, env):
        return self.loop(env, s.a[0], None, s.a[1], False, None)

    def s_for(self, s, env):
        init, cond, step, body = s.a
        saved = {item[0]: env.vars.get(item[0]) for item in init.v} if init is not None and init.k == "decl" else {}
        taint0 = set(env.taint)
        env = self.exec(init, env)
        out = self.loop(env, cond, step, body, True, init)
        if out is not None:
            self.restore(out, saved, taint0)
        return out

    # ---- loops
    def loop(self, env, cond, step, body, test_first, init):
        if env is None:
            return None
        mod = self.scan(body, "mod") | (self.scan(step, "mod") if step else set()) | \
            (self.scan(cond, "mod") if cond else set())
        pat = self.counter(env, init, cond, step, body) if test_first else None
        if pat == "never":
            self.ev(cond, env)
            return env
        head = env.copy()
        names = [x for x in mod if x in head.vars and (pat is None or x != pat[0])]
        for x in names:
            head.vars[x] = self.loose(head.vars[x])
        if pat:
            head.vars[pat[0]] = pat[1]
        if self.quiet and self.crude:
            for x in names:
                v = head.vars[x]
                head.vars[x] = self.loose(_V(deps=_DATA) if isinstance(v, _V) else _P(v.buf, _U, v.es))
        elif names:
            head = self.fixpoint(head, names, cond, step, body, test_first, pat)
        ends, brks = self.iterate(head, cond, step, body, test_first, pat)
        if not test_first:
            exits = [self.refine(e, cond, False) for e in ends]
        elif pat:
            exits = [head.copy()]
            exits[0].vars[pat[0]] = pat[2]
        else:
            exits = [self.refine(head, cond, False) if cond is not None else None]
        parts = [e for e in exits + brks if e is not None]
        ret = self.scan(body, "ret")
        out = self.join(env, parts, not ret)
        if out is not None:  # every work-item that did not return gets past the loop
            out.gok, out.fok = env.gok, env.fok and out.fok and not ret
        return out

    def loose(self, v):
        w = _cp(v, ex=False, dn=False, deps=v.deps | _DATA, ident=None) if isinstance(v, _V) else \
            _P(v.buf, _cp(v.off, ex=False, dn=False, deps=v.off.deps | _DATA), v.es, v.dims, v.chk)
        w.did = self.fresh()
        return w

    def iterate(self, head, cond, step, body, test_first, pat):
        e = head.copy()
        if pat and pat[3]:  # only the work-items with a < b enter the body
            if any(e.taint.get(d, pat[1].ident) != pat[1].ident for d in pat[3]):
                e.gok = False
            self.taint(e, pat[3], {pat[0]}, pat[1].ident)
        if cond is not None and test_first:
            self.ev(cond, e)
            if not pat:
                e = self.refine(e, cond, True)
                if e is None:
                    return [], []
                e = e.copy() if e is head else e
        self.ctl.append(["loop", [], []])
        try:
            out = self.exec(body, e)
        finally:
            ctx = self.ctl.pop()
        ends = [x for x in [out] + ctx[2] if x is not None]
        for x in ends:
            if step is not None:
                self.ev(step, x)
            if cond is not None and not test_first:
                self.ev(cond, x)
        return ends, ctx[1]

    def fixpoint(self, head, names, cond, step, body, test_first, pat):
        cur = head
        for it in range(5):
            self.quiet += 1
            self.crude += 1
            try:
                ends, brks = self.iterate(cur, cond, step, body, test_first, pat)
            finally:
                self.quiet -= 1
                self.crude -= 1
            nxt, changed = cur.copy(), False
            for x in names:
                old = cur.vars[x]
                vals = [old] + [e.vars[x] for e in ends if x in e.vars]
                new = _hull([(v, False) for v in vals])
                if not _within(new, old):
                    changed = True
                    w = self.loose(_widen(old, new) if it >= 2 else new)
                    nxt.vars[x] = w
            if not changed:
                return cur
            cur = nxt
        for x in names:
            v = cur.vars[x]
            cur.vars[x] = self.loose(_V(deps=_DATA) if isinstance(v, _V) else _P(v.buf, _U, v.es))
        return cur

    def counter(self, env, init, cond, step, body):
        """`for (k = a; k < b; k += c)`: (name, value inside, value after, deps of a and b), 'never' or None."""
        if cond is None or step is None or cond.k != "bin" or cond.v not in ("<", "<=", ">", ">=", "!="):
            return None
        if step.k not in ("asg", "post") or step.a[0].k != "id":
            return None
        name = step.a[0].v
        l, r = cond.a
        if l.k == "id" and l.v == name:
            op, bnode = cond.v, r
        elif r.k == "id" and r.v == name:
            op, bnode = _SWAP[cond.v], l
        else:
            return None
        mod = self.scan(body, "mod")
        if name in mod or any(x in mod or x == name for x in bnode.names):
            return None
        if step.v in ("++", "--"):
            c = 1 if step.v == "++" else -1
        elif step.v in ("+=", "-=") and not set(step.a[1].names) & (mod | {name}):
            c = self.const(step.a[1], env)
            c = None if c is None else c if step.v == "+=" else -c
        else:
            return None
        a, b = env.vars.get(name), self.qev(bnode, env)
        if not c or not isinstance(a, _V) or not isinstance(b, _V) or a.fl or b.fl:
            return None
        early = self.scan(body, "brk")
        if c > 0 and op in ("<", "<=") or (op == "!=" and c == 1 and a.hi <= b.lo):
            lo, hi = a.lo, b.hi - (op != "<=")
            if c > 1 and a.m == 0 and hi != INF:
                hi = a.lo + c * ((hi - a.lo) // c)
            after = _V(min(a.lo, b.lo), max(a.hi, hi + c), deps=a.deps | b.deps | _DATA)
        elif c < 0 and op in (">", ">=") or (op == "!=" and c == -1 and a.lo >= b.hi):
            lo, hi = b.lo + (op != ">="), a.hi
            if c < -1 and a.m == 0 and lo != -INF:
                lo = a.hi - (-c) * ((a.hi - lo) // -c)
            after = _V(min(a.lo, lo + c), max(a.hi, b.hi), deps=a.deps | b.deps | _DATA)
        else:
            return None
        if lo > hi:
            return "never"
        self.nloop += 1
        ex = a.ex and b.ex and not (a.deps & b.deps) and (abs(c) == 1 or a.m == 0) and not early
        m, rr = (abs(c), a.lo) if a.m == 0 else (math.gcd(a.m, abs(c)), a.r)
        ident = f"L{self.nloop}"
        v = _V(lo, hi, ex, ex, m, rr, a.deps | b.deps | {ident}, ident)
        v.did = self.fresh()
        after.did = self.fresh()
        return name, v, after, a.deps | b.deps

    # ---- kernels
    def kernel(self, fn: _Func) -> None:
        body = self.prog.body(fn)
        if body is None:
            raise _Stop(f"cannot parse the body of `{fn.name}`")
        env = _Env()
        for i, (name, t) in enumerate(fn.params):
            arg = self.L.args[i] if i < len(self.L.args) else None
            self.vtypes[name] = t
            if t.kind == "ptr":
                buf = _Buf(arg.name or name, max(0, int(arg.elements)) * t.scalar if t.size else None, t.scalar, True) \
                    if arg is not None and arg.kind == "buffer" and t.space != "local" else None
                val = _P(buf, _c(0) if buf else _U, t.size)
            elif t.kind == "int":
                val = _c(int(arg.value)) if arg is not None and arg.kind == "int" and arg.value is not None else _U
            else:
                val = _F
            self.setvar(name, val, env)
        for d in self.prog.globals:
            env = self.exec(d, env)
        self.exec(body, env)


def _floor(x, a: int):
    return x if x in (INF, -INF) else x // a


# ------------------------------------------------------------------ entry points
class _Program:
    def __init__(self, source: str, target: str):
        self.src, self.target = source, target
        self.toks = _tokens(source)
        self.funcs, spans = _functions(self.toks, target)
        self.globals: List[_Node] = []
        for s, e in spans:
            p = _Parser(self.toks[:e], target)
            p.i = s
            try:
                if p.is_decl():
                    self.globals.append(p.decl(s))
            except (_Stop, RecursionError):
                pass
        self.bodies: Dict[str, Optional[_Node]] = {}

    def body(self, fn: _Func) -> Optional[_Node]:
        if fn.name not in self.bodies:
            p = _Parser(self.toks[:fn.body[1]], self.target)
            p.i = fn.body[0]
            try:
                self.bodies[fn.name] = p.block()
            except (_Stop, RecursionError):
                self.bodies[fn.name] = None
        return self.bodies[fn.name]


@functools.lru_cache(maxsize=16)
def _program(source: str, target: str) -> _Program:
    return _Program(source, target)


def _shared_bytes(source: str, target: str, launch: Launch) -> Optional[int]:
    """Dynamic shared memory of a CUDA stage (`smem=` of its @launch line), at the launch's sizes."""
    if target != "cuda" or "smem" not in source:
        return None
    try:
        from ..codegen.launch import evaluate, parse_launch
        sizes = {a.name: a.value for a in launch.args if a.kind == "int" and a.value is not None and a.name}
        for st in parse_launch(source, target):
            if st.kernel_name == launch.kernel and st.shared_expr is not None:
                return int(evaluate(st.shared_expr, sizes))
    except Exception:  # noqa: BLE001 - unknown size: the accesses become unproven
        return None
    return None


def _give_up(launch: Launch, out, why: str) -> None:
    for a in launch.args:
        if a.kind == "buffer":
            out[1][a.name] = (None, None)
            k = (launch.kernel, 0, a.name, True)
            out[0].setdefault(k, MemFinding("mem.unproven-write", "warning",
                                            f"{launch.kernel}: accesses of {a.name} not analysed: {why}",
                                            0, launch.kernel, a.name))


def check_memory(source: str, target: str, launches: Sequence[Launch]) -> MemReport:
    """Check every access of the launched kernels against its buffer, for each concrete launch."""
    out: tuple = ({}, {})
    prog, why = None, ""
    try:
        prog = _program(str(source), target)
    except Exception as exc:  # noqa: BLE001 - never raise on weird input
        why = f"the source cannot be read ({exc})"
    for launch in launches:
        if any(int(g) <= 0 for g in launch.global_size):
            continue  # no work-item runs
        fn = prog.funcs.get(launch.kernel) if prog else None
        if fn is None:
            _give_up(launch, out, why or f"no function `{launch.kernel}` in the source")
            continue
        try:
            _Run(prog, launch, target, out, _shared_bytes(source, target, launch)).kernel(fn)
        except Exception as exc:  # noqa: BLE001 - never raise on weird input
            _give_up(launch, out, f"analysis incomplete ({type(exc).__name__}: {exc})")
    findings = sorted(out[0].values(), key=lambda f: (f.kernel, f.line, f.buffer, f.code))
    return MemReport(findings, dict(out[1]))


def launches_for(source: str, target: str, bound) -> List[Launch]:
    """The launches of a generated source under the uhopc ABI, for a BoundKernel's sizes.

    Arguments: inputs in declaration order (tensors as buffers, i32 scalars as ints of unknown
    value, float scalars), outputs, the temporaries when the stage takes them, then the sizes."""
    from ..codegen.cstyle import c_name
    from ..codegen.launch import parse_launch
    ck = bound.checked

    def tensor(name: str) -> ArgValue:
        return ArgValue("buffer", elements=math.prod(bound.shapes[name]), name=name)

    base = [(ArgValue("int" if p.dtype == "i32" else "float", name=p.name) if p.is_scalar else tensor(p.name))
            for p in ck.inputs] + [tensor(p.name) for p in ck.outputs]
    temps = [tensor(t.name) for t in ck.temps()]
    sizes = [ArgValue("int", value=int(bound.sizes[s]), name=s) for s in ck.sizes]
    env = dict(bound.sizes)
    env.update({c_name(s): v for s, v in bound.sizes.items()})
    try:
        funcs = _program(source, target).funcs
    except (_Stop, RecursionError):
        funcs = {}
    out = []
    for st in parse_launch(source, target):
        geo = st.geometry(env)
        fn = funcs.get(st.kernel_name)
        with_temps = bool(temps) and fn is not None and len(fn.params) == len(base) + len(temps) + len(sizes)
        args = tuple(base + (temps if with_temps else []) + sizes)
        out.append(Launch(st.kernel_name, args, tuple(geo.global_size),
                          tuple(geo.local_size) if geo.local_size else None))
    return out
