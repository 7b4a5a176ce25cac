"""C types, the syntax tree and the parser of kernel bodies, function and parameter lists."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ...targets.dialect import Dialect
from .lexer import Stop


# ------------------------------------------------------------------ types
_QUALS = {"const", "volatile", "restrict", "__restrict", "__restrict__", "static", "register", "extern", "inline",
          "__inline", "__inline__", "__forceinline__", "__noinline__", "__device__", "__host__", "__global__",
          "__kernel", "kernel", "__global", "__local", "__private", "__constant", "__shared__", "__constant__",
          "__managed__", "__read_only", "__write_only", "typename", "struct", "union", "enum", "__generic"}
_SCALAR = {"void": 1, "bool": 1, "_Bool": 1, "char": 1, "uchar": 1, "short": 2, "ushort": 2, "int": 4, "uint": 4,
           "long": 8, "ulong": 8, "float": 4, "double": 8, "half": 2, "__half": 2, "__nv_bfloat16": 2, "size_t": 8,
           "ptrdiff_t": 8, "intptr_t": 8, "uintptr_t": 8, "signed": 4, "unsigned": 4, "int8_t": 1, "uint8_t": 1,
           "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4, "int64_t": 8, "uint64_t": 8, "auto": 4,
           }
_VEC = re.compile(r"(u?char|u?short|u?int|u?long|float|double|half|u?longlong)(\d+)$")
_FLOATY = {"float", "double", "half", "__half", "__nv_bfloat16"}
_LANES = ("2", "3", "4", "8", "16")


@dataclass(frozen=True)
class Type:
    kind: str  # 'int', 'float' or 'other' (vectors, structs, void)
    size: int  # bytes of one object
    scalar: int  # bytes of its scalar (vectors: of one lane)
    space: str = ""  # 'local' for __local/__shared__
    unsigned: bool = False


def _type_of(words: Sequence[str], dialect: Dialect) -> Type:
    names = [w for w in words if w in _SCALAR or (_VEC.match(w) and _VEC.match(w).group(2) in _LANES)]
    space = "local" if any(w in dialect.local_spaces for w in words) else ""
    if not names:  # a struct or typedef: its size is unknown (0)
        return Type("other", 0, 0, space)
    v = _VEC.match(names[-1])
    if v:
        lanes, base = int(v.group(2)), v.group(1).lstrip("u").replace("longlong", "long")
        scalar = _SCALAR.get(base, 4)
        return Type("other", scalar * (dialect.vec3_lanes if lanes == 3 else lanes), scalar, space)
    size = 8 if names.count("long") > 1 else _SCALAR[names[-1]]
    if any(w in _FLOATY for w in names):
        return Type("float", size, size, space)
    uns = "unsigned" in names or names[-1] in ("size_t", "uintptr_t") or names[-1][0] == "u"
    return Type("other" if names[-1] == "void" else "int", size, size, space, uns)


# ------------------------------------------------------------------ parser
class Node:
    __slots__ = ("k", "v", "a", "line", "s", "e", "_key", "_names")

    def __init__(self, k, v, a, line, s=0, e=0):
        self.k, self.v, self.a, self.line, self.s, self.e = k, v, a, line, s, e
        self._key = self._names = None

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = f"{self.k}{self.v}(" + ",".join(
                c.key if isinstance(c, Node) else "" for c in self.a) + ")"
        return self._key

    @property
    def names(self) -> tuple:
        if self._names is None:
            s = {self.v} if self.k == "id" else set()
            for c in self.a:
                if isinstance(c, Node):
                    s.update(c.names)
            self._names = tuple(sorted(s))
        return self._names


_BINPREC = {"||": 4, "&&": 5, "|": 6, "^": 7, "&": 8, "==": 9, "!=": 9, "<": 10, "<=": 10, ">": 10, ">=": 10,
            "<<": 11, ">>": 11, "+": 12, "-": 12, "*": 13, "/": 13, "%": 13}
ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^=", "&&=", "||="}
_CPP_CASTS = {"static_cast", "reinterpret_cast", "const_cast", "dynamic_cast"}


class Parser:
    def __init__(self, toks: list, dialect: Dialect):
        self.t, self.i, self.dialect, self.depth = toks, 0, dialect, 0

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.t[j][1] if j < len(self.t) else ""

    def take(self, want: Optional[str] = None) -> tuple:
        if self.i >= len(self.t) or (want is not None and self.t[self.i][1] != want):
            raise Stop(f"expected {want or 'a token'}")
        self.i += 1
        return self.t[self.i - 1]

    def node(self, k, v, a, start) -> Node:
        return Node(k, v, a, self.t[min(start, len(self.t) - 1)][2] if self.t else 0, start, self.i)

    def is_type(self, k: int = 0) -> bool:
        w = self.peek(k)
        return (w in _QUALS or w in _SCALAR or bool(_VEC.match(w)) or w in ("__attribute__", "__align__")
                or w in self.dialect.bare_qualifiers)

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
        while self.peek() in ("*", "&") or self.peek() in _QUALS or self.peek() in self.dialect.bare_qualifiers:
            n += self.take()[1] == "*"
        return n

    def type_name(self) -> Type:
        words = self.type_words()
        stars = self.ptr_stars()
        t = _type_of(words, self.dialect)
        return Type("ptr", t.size, t.scalar, t.space) if stars else t

    # ---- expressions
    def expr(self) -> Node:
        s = self.i
        e = self.assign()
        while self.peek() == ",":
            self.take()
            e = self.node("comma", ",", (e, self.assign()), s)
        return e

    def assign(self) -> Node:
        s = self.i
        lhs = self.ternary()
        if self.peek() in ASSIGN:
            op = self.take()[1]
            rhs = self.assign()
            if op == "=":
                return self.node("asg", op, (lhs, rhs), s)
            return self.node("asg", op, (lhs, rhs, Node("bin", op[:-1], (lhs, rhs), lhs.line, s, self.i)), s)
        return lhs

    def ternary(self) -> Node:
        s = self.i
        c = self.binary(4)
        if self.peek() != "?":
            return c
        self.take()
        a = self.expr()
        self.take(":")
        return self.node("tern", "?", (c, a, self.assign()), s)

    def binary(self, prec: int) -> Node:
        s = self.i
        lhs = self.unary()
        while _BINPREC.get(self.peek(), 0) >= prec:
            op = self.take()[1]
            rhs = self.binary(_BINPREC[op] + 1)
            lhs = self.node("log" if op in ("&&", "||") else "bin", op, (lhs, rhs), s)
        return lhs

    def unary(self) -> Node:
        s = self.i
        self.depth += 1
        if self.depth > 120:
            raise Stop("expression nested too deeply")
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

    def plus_one(self, op: str, x: Node, s: int) -> Node:
        """`x + 1` (or `x - 1`) for ++ / --."""
        return Node("bin", op[0], (x, Node("num", 1, (), x.line)), x.line, s, self.i)

    def postfix(self, e: Node, s: int) -> Node:
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
                e = self.node("mem", w, (e, Node("field", self.take()[1], (), 0)), s)
            elif w in ("++", "--"):
                self.take()
                e = self.node("post", w, (e, self.plus_one(w, e, s)), s)
            else:
                return e

    def primary(self) -> Node:
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
        raise Stop(f"unexpected `{text}`")

    def init_list(self) -> Node:
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
    def block(self) -> Node:
        s = self.i
        self.take("{")
        items = []
        while self.peek() not in ("}", ""):
            items.append(self.stmt())
        self.take("}")
        return self.node("block", None, tuple(items), s)

    def stmt(self) -> Node:
        s = self.i
        self.depth += 4
        try:
            if self.depth > 240:
                raise Stop("statements nested too deeply")
            return self.stmt_inner(s)
        except Stop:
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

    def paren(self) -> Node:
        self.take("(")
        e = self.expr()
        self.take(")")
        return e

    def stmt_inner(self, s: int) -> Node:
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

    def for_stmt(self, s: int) -> Node:
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

    def decl(self, s: int) -> Node:
        t = _type_of(words := self.type_words(), self.dialect)
        items = []
        while True:
            stars = self.ptr_stars()
            ref = self.i > 0 and self.t[self.i - 1][1] == "&"
            name = self.take()[1]
            if not re.match(r"[A-Za-z_]\w*$", name) or name in _QUALS:
                raise Stop("bad declarator")
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
            ty = Type("ref", 0, 0) if ref else Type("ptr", t.size, t.scalar, t.space) if stars else t
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
class Func:
    name: str
    head: List[str]
    params: list  # (name, Type)
    body: Tuple[int, int]  # token span of the body, braces included
    parsed: Optional[Node] = None


_NOT_FUNCS = {"if", "while", "for", "switch", "return", "sizeof", "__attribute__", "__launch_bounds__", "__align__",
              "reqd_work_group_size", "defined", "__declspec"}


def functions(toks: list, dialect: Dialect) -> Tuple[Dict[str, Func], list]:
    """Function definitions (by name, kernels first on clashes) and top-level declaration token spans."""
    funcs: Dict[str, Func] = {}
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
                    funcs[w] = Func(w, head, _params(toks[i + 2:close], dialect), (k, end + 1))
                i, start = end + 1, end + 1
                continue
            i = close + 1
            continue
        i += 1
    return funcs, decls


def _params(toks: list, dialect: Dialect) -> list:
    out, cur, depth = [], [], 0
    for t in toks + [("op", ",", 0, 0, 0)]:
        depth += t[1] in "([" and t[0] == "op"
        depth -= t[1] in ")]" and t[0] == "op"
        if depth == 0 and t[1] == ",":
            words = [x[1] for x in cur]
            names = [x for x in words if re.match(r"[A-Za-z_]\w*$", x) and x not in _QUALS and x not in _SCALAR
                     and not _VEC.match(x) and x not in dialect.bare_qualifiers]
            if words and words != ["void"]:
                ty = _type_of(words, dialect)
                if "*" in words or "[" in words:
                    ty = Type("ptr", ty.size, ty.scalar, ty.space)
                out.append((names[-1] if names else f"_arg{len(out)}", ty))
            cur = []
        else:
            cur.append(t)
    return out
