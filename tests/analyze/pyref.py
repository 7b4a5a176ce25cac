"""Pure-Python equivalent of the native analyzer: the tests' parity oracle and the speed baseline.

    import pyref                                          # tests/analyze is on sys.path
    d = pyref.analyze_dict(source, "opencl", expected)   # same dict shape as the native report

The same design as cpp/analyzer/: a regex-driven lexer (comments, strings, preprocessor
lines, line/column), the same light recursive-descent parser, the same rule families and
rule codes. `bench/analyzer.py` times both on one corpus; tests check that both report the
same findings (severity, code, line, column) on it. The @launch grammar is the one of
uhop_cc.codegen.launch, used directly (its private helpers included: this is test code that
mirrors the C++ analyzer, not part of the package). It lives in tests/ because only
tests/analyze/test_pyref.py and bench/analyzer.py use it; uhop_cc never imports it.
"""
from __future__ import annotations

import re
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from uhop_cc.codegen import launch as _launch

__all__ = ["analyze_dict", "TARGETS"]

TARGETS = ("opencl", "cuda", "ttmetal")
MAX_SOURCE = 1 << 20
MAX_DEPTH = 256
MAX_NEST = 600
MAX_FINDINGS = 400

# ------------------------------------------------------------------ words
_SCALARS = ["void", "bool", "char", "uchar", "short", "ushort", "int", "uint", "long", "ulong", "half", "float",
            "double", "size_t", "ptrdiff_t", "intptr_t", "uintptr_t", "int8_t", "int16_t", "int32_t", "int64_t",
            "uint8_t", "uint16_t", "uint32_t", "uint64_t", "__half", "__nv_bfloat16", "bfloat16", "__half2", "dim3"]
_VBASE = ["char", "uchar", "short", "ushort", "int", "uint", "long", "ulong", "half", "float", "double"]
VECTORS = {f"{b}{n}": (b, n) for b in _VBASE for n in (2, 3, 4, 8, 16)}
BUILTIN_TYPES = set(_SCALARS) | set(VECTORS)
SCALAR_BYTES = {"bool": 1, "char": 1, "uchar": 1, "int8_t": 1, "uint8_t": 1, "short": 2, "ushort": 2, "half": 2,
                "int16_t": 2, "uint16_t": 2, "__half": 2, "__nv_bfloat16": 2, "bfloat16": 2, "int": 4, "uint": 4,
                "float": 4, "int32_t": 4, "uint32_t": 4, "__half2": 4, "unsigned": 4, "signed": 4, "long": 8,
                "ulong": 8, "double": 8, "size_t": 8, "ptrdiff_t": 8, "intptr_t": 8, "uintptr_t": 8, "int64_t": 8,
                "uint64_t": 8, "dim3": 12}
INTEGER_TYPES = {"bool", "char", "uchar", "short", "ushort", "int", "uint", "long", "ulong", "size_t", "ptrdiff_t",
                 "intptr_t", "uintptr_t", "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t",
                 "uint32_t", "uint64_t", "unsigned", "signed"}
QUALIFIERS = {"const", "volatile", "static", "inline", "extern", "restrict", "__restrict", "__restrict__", "register",
              "constexpr", "unsigned", "signed", "__forceinline__", "__noinline__", "FORCE_INLINE", "tt_l1_ptr",
              "__global", "__local", "__constant", "__private", "__device__", "__host__", "__shared__",
              "__constant__", "typename", "struct", "union", "enum", "class"}
CL_QUALIFIERS = {"global", "local", "constant", "private"}
KEYWORDS = {"if", "else", "for", "while", "do", "switch", "case", "default", "return", "break", "continue", "goto",
            "sizeof", "namespace", "template", "using", "typedef", "auto", "__kernel", "kernel", "__attribute__",
            "__attribute", "reqd_work_group_size", "get_global_id", "get_local_id", "get_group_id",
            "get_sub_group_local_id", "get_local_linear_id", "get_global_linear_id", "get_sub_group_id", "barrier",
            "work_group_barrier", "sub_group_barrier", "__global__", "__launch_bounds__", "threadIdx", "blockIdx",
            "blockDim", "gridDim", "__syncthreads", "__syncthreads_count", "__syncthreads_and", "__syncthreads_or",
            "__syncwarp", "sync", "thread_rank", "printf", "asm", "__asm", "__asm__", "__has_include",
            "__has_include_next", "__has_embed", "true", "false", "reinterpret_cast", "static_cast", "const_cast",
            "dynamic_cast", "cb_reserve_back", "cb_push_back", "cb_wait_front", "cb_pop_front",
            "noc_async_read_barrier", "noc_async_write_barrier", "noc_async_writes_flushed", "noc_async_full_barrier",
            "tile_regs_acquire", "tile_regs_commit", "tile_regs_wait", "tile_regs_release", "acquire_dst",
            "release_dst", "pack_tile", "get_arg_val", "get_common_arg_val", "get_compile_time_arg_val",
            "kernel_main", "MAIN", "NAMESPACE", "get_write_ptr", "get_read_ptr", "get_tile_size", "mad", "mad24",
            "mul24", "fma", "min", "max", "clamp"} | QUALIFIERS | CL_QUALIFIERS | BUILTIN_TYPES
MARK_WORDS = {"printf", "asm", "__asm", "__asm__", "__has_include", "__has_include_next", "__has_embed", "goto"}


def is_word(name: str) -> bool:
    return name in KEYWORDS


def vector_lanes(w: str) -> int:
    v = VECTORS.get(w)
    return v[1] if v else 1


def vector_elem(w: str) -> str:
    v = VECTORS.get(w)
    return v[0] if v else w


def elem_bytes_of(word: str) -> int:
    sb = SCALAR_BYTES.get(vector_elem(word), 0)
    lanes = vector_lanes(word)
    return sb * (4 if lanes == 3 else lanes)


# ------------------------------------------------------------------ lexer
ID, NUM, STR, CHR, PUN, END = range(6)
_PUNCTS = ["<<=", ">>=", "...", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "+=", "-=", "*=",
           "/=", "%=", "&=", "|=", "^=", "::", "##"]
_TOKEN = re.compile(r"""
 (?P<nl>\n)
|(?P<ws>[ \t\r\f\v]+)
|(?P<cont>\\\r?\n)
|(?P<lc>//[^\n]*)
|(?P<bc>/\*[\s\S]*?\*/)
|(?P<bcu>/\*)
|(?P<id>[A-Za-z_$][A-Za-z0-9_$]*)
|(?P<num>(?:[0-9]|\.[0-9])(?:[A-Za-z0-9_$.]|(?<=[eEpP])[+\-]|'(?=[A-Za-z0-9_$]))*)
|(?P<str>"(?:\\[\s\S]?|[^"\\\n])*"?)
|(?P<chr>'(?:\\[\s\S]?|[^'\\\n])*'?)
|(?P<pun>""" + "|".join(re.escape(p) for p in _PUNCTS) + r"""|[-+*/%<>=!&|^~?:;,.()\[\]{}#])
|(?P<bad>[\s\S])
""", re.X)
_LAUNCH = re.compile(r"//[ \t]*@launch(?![A-Za-z0-9_$])")


class Tok:
    __slots__ = ("kind", "text", "line", "col", "off")

    def __init__(self, kind, text, line, col, off):
        self.kind, self.text, self.line, self.col, self.off = kind, text, line, col, off


class Lexed:
    def __init__(self):
        self.toks: List[Tok] = []
        self.pp: List[Tok] = []
        self.dirs: List[Tuple[int, int, int, int, int]] = []  # line, col, off, begin, end (pp range)
        self.launches: List[Tuple[int, int, int, str]] = []  # line, col, off, body
        self.match: List[int] = []
        self.issues: List[Tuple[str, str, int, int]] = []
        self.marks: List[int] = []
        self.lines = 1
        self.fatal = False


def lex(src: str) -> Lexed:
    out = Lexed()
    toks, pp = out.toks, out.pp
    line, line_start, at_start, in_pp = 1, 0, True, False
    dir_start = None
    invalid = 0
    inv_pos = None
    pos, n = 0, len(src)
    for m in _TOKEN.finditer(src):
        kind = m.lastgroup
        start = m.start()
        text = m.group()
        if kind == "nl":
            if in_pp:
                out.dirs.append((*dir_start, len(pp)))
                in_pp = False
            line += 1
            line_start = m.end()
            at_start = True
            continue
        if kind == "ws":
            continue
        if kind == "cont":
            line += 1
            line_start = m.end()
            continue
        if kind == "lc":
            if at_start and not in_pp:
                lm = _LAUNCH.match(text)
                if lm:
                    out.launches.append((line, start - line_start + 1, start, text[lm.end():]))
            continue
        if kind == "bc":
            k = text.count("\n")
            if k:
                line += k
                line_start = start + text.rfind("\n") + 1
            continue
        if kind == "bcu":
            out.issues.append(("lex.unterminated-comment", "unterminated /* comment: it runs to the end of the source",
                               line, start - line_start + 1))
            k = src.count("\n", start)
            if k:
                line += k
                line_start = src.rfind("\n") + 1
            break
        col = start - line_start + 1
        if kind == "pun" and text[0] == "#" and at_start and not in_pp:
            in_pp = True
            dir_start = (line, col, start, len(pp))
            at_start = False
            if text == "##":  # the directive's `#`, then a `#` token inside it
                pp.append(Tok(PUN, "#", line, col + 1, start + 1))
            continue
        at_start = False
        if kind == "id":
            t = Tok(ID, text, line, col, start)
            if text in MARK_WORDS and not in_pp:
                out.marks.append(len(toks))
        elif kind == "num":
            t = Tok(NUM, text, line, col, start)
        elif kind == "str" or kind == "chr":
            close = '"' if kind == "str" else "'"
            if len(text) < 2 or text[-1] != close or _escaped_end(text):
                out.issues.append(("lex.unterminated-string", "unterminated string literal" if kind == "str"
                                   else "unterminated character literal", line, col))
            t = Tok(STR if kind == "str" else CHR, text, line, col, start)
            k = text.count("\n")
            if k:
                line += k
                line_start = start + text.rfind("\n") + 1
        elif kind == "pun":
            t = Tok(PUN, text, line, col, start)
        else:  # bad
            if invalid == 0:
                inv_pos = (line, col, ord(text) if len(text) == 1 else 0)
            invalid += 1
            continue
        (pp if in_pp else toks).append(t)
    if in_pp:
        out.dirs.append((*dir_start, len(pp)))
    out.lines = line
    if invalid:
        b = inv_pos[2]
        if b > 0xFF:
            b = ord(src[0]) if False else b
        msg = f"invalid character 0x{inv_pos[2] & 0xFF:02x} in the source"
        if invalid > 1:
            msg += f" ({invalid} invalid bytes in all)"
        out.issues.append(("lex.invalid-char", msg, inv_pos[0], inv_pos[1]))
    end = Tok(END, "", line, n - line_start + 1, n)
    toks.append(end)
    match = [-1] * len(toks)
    out.match = match
    stack: List[int] = []
    for k, t in enumerate(toks):
        if t.kind != PUN:
            continue
        p = t.text
        if p in "([{" and len(p) == 1:
            stack.append(k)
            if len(stack) > MAX_DEPTH:
                out.issues.append(("parse.too-deep", f"brackets nested deeper than {MAX_DEPTH} levels", t.line, t.col))
                out.fatal = True
                return out
        elif p in ")]}" and len(p) == 1:
            want = {")": "(", "]": "[", "}": "{"}[p]
            if not stack or toks[stack[-1]].text != want:
                msg = f"unbalanced brackets: `{p}` "
                if not stack:
                    msg += "closes nothing"
                else:
                    o = toks[stack[-1]]
                    msg += f"does not match `{o.text}` opened at line {o.line}"
                out.issues.append(("parse.unbalanced", msg, t.line, t.col))
                out.fatal = True
                return out
            match[k] = stack[-1]
            match[stack[-1]] = k
            stack.pop()
    if stack:
        o = toks[stack[-1]]
        out.issues.append(("parse.unbalanced", f"unbalanced brackets: `{o.text}` is never closed", o.line, o.col))
        out.fatal = True
    return out


def _escaped_end(text: str) -> bool:
    """`"abc\\"` matched up to an escaped quote at the end of the input."""
    k = 0
    i = len(text) - 2
    while i >= 1 and text[i] == "\\":
        k += 1
        i -= 1
    return k % 2 == 1


# ------------------------------------------------------------------ AST
class Expr:
    __slots__ = ("kind", "op", "tok", "tb", "te", "a", "b", "c", "items", "sym", "t0", "t1", "flags", "depth",
                 "word")

    def __init__(self, kind, tok, tb, te, a=None, b=None, c=None):
        self.kind, self.tok, self.tb, self.te, self.a, self.b, self.c = kind, tok, tb, te, a, b, c
        self.op = ""
        self.items = None
        self.sym = ""
        self.word = ""
        self.t0 = self.t1 = 0
        self.flags = 0
        d = 0
        for x in (a, b, c):
            if x is not None and x.depth > d:
                d = x.depth
        self.depth = d + 1


F_PTR, F_SCOPED, F_TEMPLATE, F_ARROW, F_CXX = 1, 2, 4, 8, 16


class Stmt:
    __slots__ = ("kind", "tok", "e0", "e1", "s0", "s1", "items", "te")

    def __init__(self, kind, tok):
        self.kind, self.tok = kind, tok
        self.e0 = self.e1 = self.s0 = self.s1 = None
        self.items = None
        self.te = 0


class TypeSpec:
    __slots__ = ("word", "type_sym", "space", "is_const", "is_volatile", "is_static", "is_extern", "is_constexpr",
                 "is_shared", "is_restrict", "tb", "te")

    def __init__(self):
        self.word = ""
        self.type_sym = ""
        self.space = ""
        self.is_const = self.is_volatile = self.is_static = self.is_extern = False
        self.is_constexpr = self.is_shared = self.is_restrict = False
        self.tb = self.te = 0

    def copy(self):
        t = TypeSpec()
        for k in self.__slots__:
            setattr(t, k, getattr(self, k))
        return t


class Decl:
    __slots__ = ("name_tok", "sym", "ts", "ptr", "is_ref", "is_param", "unsized", "dims", "init", "tb", "te")

    def __init__(self, ts):
        self.name_tok = 0
        self.sym = ""
        self.ts = ts
        self.ptr = 0
        self.is_ref = self.is_param = self.unsized = False
        self.dims: List[Optional[Expr]] = []
        self.init = None
        self.tb = self.te = 0

    def is_array(self):
        return bool(self.dims) or self.unsized


class Function:
    __slots__ = ("name_tok", "sym", "first_tok", "is_kernel", "is_tt_main", "reqd", "bounds", "params", "body",
                 "body_open", "body_close", "calls", "casts", "loops", "index")

    def __init__(self):
        self.name_tok = self.first_tok = 0
        self.sym = ""
        self.is_kernel = self.is_tt_main = False
        self.reqd: List[Optional[Expr]] = []
        self.bounds: List[Optional[Expr]] = []
        self.params: List[Decl] = []
        self.body = None
        self.body_open = self.body_close = 0
        self.calls: List[Expr] = []
        self.casts: List[Expr] = []
        self.loops: List[Stmt] = []
        self.index = 0


class TooDeep(Exception):
    pass


_ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}
_PREC = {"||": 4, "&&": 5, "|": 6, "^": 7, "&": 8, "==": 9, "!=": 9, "<": 10, ">": 10, "<=": 10, ">=": 10, "<<": 11,
         ">>": 11, "+": 12, "-": 12, "*": 13, "/": 13, "%": 13}


class Parser:
    def __init__(self, toks: List[Tok], match: List[int], target: str, types: set):
        self.toks, self.match, self.target, self.types = toks, match, target, types
        self.end = len(toks) - 1
        self.pos = 0
        self.nest = 0
        self.too_deep_tok = None
        self.funcs: List[Function] = []
        self.globals: List[Stmt] = []
        self.calls: List[Expr] = []
        self.casts: List[Expr] = []
        self.loops: List[Stmt] = []
        self.cl = target == "opencl"

    # ---- helpers
    def tk(self, i):
        return self.toks[i] if i < self.end else self.toks[-1]

    def punct(self, i, c):
        if i >= self.end:
            return False
        t = self.toks[i]
        return t.kind == PUN and t.text == c

    def ident(self, i):
        return i < self.end and self.toks[i].kind == ID

    def word(self, i, w):
        return i < self.end and self.toks[i].kind == ID and self.toks[i].text == w

    def close_of(self, i):
        m = self.match[i] if i < len(self.match) else -1
        return m if m > i else i

    def is_open(self, i):
        return i < self.end and self.toks[i].kind == PUN and self.toks[i].text in ("(", "[", "{")

    def find_top(self, p, e, c):
        toks = self.toks
        while p < e:
            t = toks[p]
            if t.kind == PUN:
                if t.text == c:
                    return p
                if t.text in ("(", "[", "{"):
                    p = self.close_of(p) + 1
                    continue
            p += 1
        return e

    def deep(self, tok):
        if self.too_deep_tok is None:
            self.too_deep_tok = tok
        raise TooDeep()

    def mk(self, kind, tok, tb, te, a=None, b=None, c=None):
        x = Expr(kind, tok, tb, te, a, b, c)
        if x.depth > MAX_NEST:
            self.deep(tok)
        return x

    def with_items(self, x, items):
        x.items = items
        d = x.depth - 1
        for it in items:
            if it.depth > d:
                d = it.depth
        if d + 1 > MAX_NEST:
            self.deep(x.tok)
        x.depth = d + 1
        return x

    def is_type_word(self, name):
        return name in self.types

    def qualifier(self, w):
        if w in QUALIFIERS:
            return True
        return self.cl and w in CL_QUALIFIERS

    def sub(self, e):
        saved = self.end
        self.end = min(e, self.end)
        return saved

    def enter(self):
        self.nest += 1
        if self.nest > MAX_NEST:
            self.deep(self.pos if self.pos < len(self.toks) else 0)

    # ---- declarations
    def starts_decl(self, p, e):
        toks = self.toks
        qual = False
        while p < e and toks[p].kind == ID:
            w = toks[p].text
            if w in ("__attribute__", "__attribute") and p + 1 < e and toks[p + 1].kind == PUN and \
                    toks[p + 1].text == "(":
                p = self.close_of(p + 1) + 1
                continue
            if not self.qualifier(w):
                break
            if w not in ("inline", "__forceinline__", "__noinline__"):
                qual = True
            p += 1
        if p >= e:
            return False
        t = toks[p]
        if t.kind == PUN and t.text == "::":
            return p + 1 < e and self.starts_decl(p + 1, e)
        if t.kind != ID:
            return False
        if t.text in BUILTIN_TYPES or t.text == "auto":
            return True
        if qual:
            return True
        if is_word(t.text) and not self.is_type_word(t.text):
            if t.text != "tt_l1_ptr":
                return False
        q = p + 1
        while q + 1 < e and toks[q].kind == PUN and toks[q].text == "::" and toks[q + 1].kind == ID:
            q += 2
        if q < e and toks[q].kind == PUN and toks[q].text == "<":
            gt = self.template_close(q, e)
            if not gt:
                return False
            q = gt + 1
        typed = self.is_type_word(t.text)
        while q < e and toks[q].kind == PUN and toks[q].text in ("*", "&", "&&"):
            q += 1
        while q < e and toks[q].kind == ID and self.qualifier(toks[q].text):
            q += 1
        if q >= e or toks[q].kind != ID:
            return False
        if is_word(toks[q].text) and not typed and toks[q].text in BUILTIN_TYPES:
            return False
        q += 1
        if q >= e:
            return True
        nx = toks[q]
        if nx.kind != PUN:
            return False
        return nx.text in ("=", ";", ",", "[", "{", ":") or (nx.text == "(" and typed)

    def template_close(self, lt, e):
        depth = 0
        limit = min(e, lt + 48)
        q = lt
        toks = self.toks
        while q < limit:
            t = toks[q]
            if t.kind == PUN:
                if t.text == "<":
                    depth += 1
                elif t.text == ">":
                    depth -= 1
                    if depth == 0:
                        return q
                elif t.text == ">>":
                    depth -= 2
                    if depth <= 0:
                        return q if depth == 0 else 0
                elif t.text == "(":
                    q = self.close_of(q)
                elif t.text not in ("::", ",", "*", "&", "+", "-"):
                    return 0
            elif t.kind not in (ID, NUM):
                return 0
            q += 1
        return 0

    def cast_ahead(self, lp):
        rp = self.close_of(lp)
        if rp <= lp + 1 or rp >= self.end:
            return False
        typeish = False
        for q in range(lp + 1, rp):
            t = self.toks[q]
            if t.kind == ID:
                w = t.text
                if w in BUILTIN_TYPES or self.is_type_word(w) or w in ("unsigned", "signed"):
                    typeish = True
                elif self.qualifier(w):
                    pass
                elif not is_word(w) and len(w) > 2 and w.endswith("_t"):
                    typeish = True
                else:
                    return False
            elif t.kind == PUN:
                if t.text not in ("*", "&", "::", "<", ">"):
                    return False
            else:
                return False
        if not typeish:
            return False
        n = self.tk(rp + 1)
        if n.kind in (ID, NUM, STR, CHR):
            return n.kind != END
        if n.kind == PUN:
            return n.text in ("(", "-", "+", "!", "~", "*", "&", "++", "--", "{")
        return False

    def specifiers(self, ts):
        ts.tb = self.pos
        have_type = False
        longs = 0
        is_unsigned = is_signed = is_short = False
        base = ""
        toks = self.toks
        while self.pos < self.end:
            t = toks[self.pos]
            if t.kind == PUN and t.text == "::" and not have_type:
                self.pos += 1
                continue
            if t.kind != ID:
                break
            w = t.text
            if w in ("__attribute__", "__attribute", "__launch_bounds__") and self.punct(self.pos + 1, "("):
                self.pos = self.close_of(self.pos + 1) + 1
                continue
            if w == "const":
                ts.is_const = True
            elif w == "volatile":
                ts.is_volatile = True
            elif w == "static":
                ts.is_static = True
            elif w == "extern":
                ts.is_extern = True
            elif w == "constexpr":
                ts.is_constexpr = ts.is_const = True
            elif w in ("restrict", "__restrict", "__restrict__"):
                ts.is_restrict = True
            elif w in ("register", "inline", "__forceinline__", "__noinline__", "FORCE_INLINE", "tt_l1_ptr",
                       "__device__", "__host__", "typename", "__kernel", "__global__"):
                pass
            elif w == "__shared__":
                ts.is_shared = True
                ts.space = "local"
            elif w == "__constant__":
                ts.space = "constant"
            elif w == "__global" or (w == "global" and self.cl):
                ts.space = "global"
            elif w == "__local" or (w == "local" and self.cl):
                ts.space = "local"
            elif w == "__constant" or (w == "constant" and self.cl):
                ts.space = "constant"
            elif w == "__private" or (w == "private" and self.cl):
                ts.space = "private"
            elif w == "kernel" and self.cl:
                pass
            elif w == "unsigned":
                is_unsigned = have_type = True
            elif w == "signed":
                is_signed = have_type = True
            elif w == "long":
                longs += 1
                have_type = True
            elif w == "short":
                is_short = have_type = True
            elif w in ("struct", "union", "enum", "class"):
                self.pos += 1
                if self.ident(self.pos):
                    ts.type_sym = toks[self.pos].text
                    self.pos += 1
                if self.punct(self.pos, "{"):
                    self.pos = self.close_of(self.pos) + 1
                have_type = True
                continue
            elif w in BUILTIN_TYPES or w == "auto":
                if base or ts.type_sym:
                    break
                base = w
                have_type = True
            elif have_type:
                break
            else:
                ts.type_sym = w
                self.pos += 1
                while self.punct(self.pos, "::") and self.ident(self.pos + 1):
                    ts.type_sym = toks[self.pos + 1].text
                    self.pos += 2
                if self.punct(self.pos, "<"):
                    gt = self.template_close(self.pos, self.end)
                    if gt:
                        self.pos = gt + 1
                have_type = True
                continue
            self.pos += 1
        if base == "char":
            base = "uchar" if is_unsigned else "char"
        elif base == "int" or (not base and not ts.type_sym and (is_unsigned or is_signed or longs or is_short)):
            if longs:
                base = "ulong" if is_unsigned else "long"
            elif is_short:
                base = "ushort" if is_unsigned else "short"
            else:
                base = "uint" if is_unsigned else "int"
        ts.word = base
        ts.te = self.pos

    def declarator(self, d, param):
        d.tb = self.pos
        toks = self.toks
        while self.pos < self.end:
            t = toks[self.pos]
            if t.kind == PUN and t.text == "*":
                d.ptr += 1
                self.pos += 1
            elif t.kind == PUN and t.text in ("&", "&&"):
                d.is_ref = True
                self.pos += 1
            elif t.kind == ID and self.qualifier(t.text) and t.text not in ("struct", "class", "union", "enum"):
                w = t.text
                if w in ("__global", "global"):
                    d.ts.space = "global"
                elif w in ("__local", "local"):
                    d.ts.space = "local"
                elif w in ("__constant", "constant"):
                    d.ts.space = "constant"
                elif w == "const":
                    if d.ptr == 0:
                        d.ts.is_const = True
                elif w in ("restrict", "__restrict", "__restrict__"):
                    d.ts.is_restrict = True
                self.pos += 1
            elif t.kind == ID and t.text in ("__attribute__", "__attribute") and self.punct(self.pos + 1, "("):
                self.pos = self.close_of(self.pos + 1) + 1
            else:
                break
        if self.punct(self.pos, "("):
            rp = self.close_of(self.pos)
            for q in range(self.pos + 1, rp):
                if toks[q].kind == ID and not is_word(toks[q].text):
                    d.name_tok = q
                    d.sym = toks[q].text
            d.ptr = d.ptr or 1
            self.pos = self.find_top(rp + 1, self.end, ",")
            d.te = self.pos
            return d.name_tok != 0 or param
        if self.ident(self.pos) and toks[self.pos].text not in BUILTIN_TYPES:
            d.name_tok = self.pos
            d.sym = toks[self.pos].text
            self.pos += 1
        elif not param:
            d.te = self.pos
            return False
        while self.punct(self.pos, "["):
            rb = self.close_of(self.pos)
            if rb == self.pos + 1:
                d.unsized = True
            elif len(d.dims) < 4:
                d.dims.append(self.expr_range(self.pos + 1, rb))
            self.pos = rb + 1
        while self.ident(self.pos) and toks[self.pos].text in ("__attribute__", "__attribute") and \
                self.punct(self.pos + 1, "("):
            self.pos = self.close_of(self.pos + 1) + 1
        if self.punct(self.pos, ":"):
            self.pos = self.find_top(self.pos + 1, self.end, ",")
        elif self.punct(self.pos, "="):
            e = self.find_top(self.pos + 1, self.end, ",")
            d.init = self.expr_range(self.pos + 1, e)
            self.pos = e
        elif self.punct(self.pos, "(") or self.punct(self.pos, "{"):
            rp = self.close_of(self.pos)
            if toks[self.pos].text == "{":
                saved = self.sub(rp + 1)
                try:
                    d.init = self.primary()
                finally:
                    self.end = saved
            else:
                d.init = self.expr_range(self.pos + 1, rp)
            self.pos = rp + 1
        d.te = self.pos
        return True

    def decl_stmt(self, b, e):
        saved = self.sub(e)
        try:
            self.pos = b
            ts = TypeSpec()
            self.specifiers(ts)
            decls = []
            while self.pos < self.end:
                d = Decl(ts.copy())
                before = self.pos
                if self.declarator(d, False):
                    decls.append(d)
                if self.punct(self.pos, ","):
                    self.pos += 1
                    continue
                if self.pos < self.end:
                    nx = self.find_top(self.pos, self.end, ",")
                    self.pos = nx + 1 if nx < self.end else self.end
                if self.pos == before:
                    self.pos += 1
        finally:
            self.end = saved
        s = Stmt("Decl", b)
        s.items = decls
        s.te = e
        return s

    def parameters(self, lp, rp, f):
        p = lp + 1
        toks = self.toks
        while p < rp:
            e = self.find_top(p, rp, ",")
            only_void = e == p + 1 and toks[p].kind == ID and toks[p].text == "void"
            ellipsis = e == p + 1 and toks[p].kind == PUN and toks[p].text == "..."
            if e > p and not only_void and not ellipsis:
                saved = self.sub(e)
                try:
                    self.pos = p
                    d = Decl(TypeSpec())
                    self.specifiers(d.ts)
                    d.is_param = True
                    self.declarator(d, True)
                    d.tb, d.te = p, e
                    f.params.append(d)
                finally:
                    self.end = saved
            p = e + 1

    def args_into(self, lp, cap):
        rp = self.close_of(lp)
        p = lp + 1
        out = []
        while p < rp:
            e = self.find_top(p, rp, ",")
            if len(out) < cap:
                out.append(self.expr_range(p, e))
            p = e + 1
        return out

    def attributes(self, b, e, f):
        toks = self.toks
        q = b
        while q < e:
            t = toks[q]
            if t.kind != ID:
                q += 1
                continue
            if t.text in ("__attribute__", "__attribute") and q + 1 < e and toks[q + 1].kind == PUN and \
                    toks[q + 1].text == "(":
                rp = self.close_of(q + 1)
                k = q + 2
                while k < rp:
                    if toks[k].kind == ID and toks[k].text == "reqd_work_group_size" and k + 1 < rp and \
                            toks[k + 1].kind == PUN and toks[k + 1].text == "(":
                        f.reqd = self.args_into(k + 1, 3)
                        k = self.close_of(k + 1)
                    k += 1
                q = rp
            elif t.text == "__launch_bounds__" and q + 1 < e and toks[q + 1].kind == PUN and toks[q + 1].text == "(":
                f.bounds = self.args_into(q + 1, 2)
                q = self.close_of(q + 1)
            elif (t.text == "__kernel" or (t.text == "kernel" and self.cl)) and self.target == "opencl":
                f.is_kernel = True
            elif t.text == "__global__" and self.target == "cuda":
                f.is_kernel = True
            q += 1

    # ---- top level
    def file(self, b, e):
        saved = self.sub(e)
        try:
            self._file(b)
        finally:
            self.end = saved

    def _file(self, b):
        toks = self.toks
        p = b
        while p < self.end:
            t = toks[p]
            if t.kind == PUN and t.text == ";":
                p += 1
                continue
            if t.kind == ID:
                w = t.text
                if w == "namespace":
                    q = p + 1
                    while q < self.end and not self.punct(q, "{") and not self.punct(q, ";") and \
                            (self.ident(q) or self.punct(q, "::") or self.punct(q, "=")):
                        q += 1
                    if self.punct(q, "{"):
                        c = self.close_of(q)
                        self.file(q + 1, c)
                        p = c + 1
                    else:
                        p = self.find_top(q, self.end, ";") + 1
                    continue
                if w == "extern" and p + 1 < self.end and toks[p + 1].kind == STR:
                    if self.punct(p + 2, "{"):
                        c = self.close_of(p + 2)
                        self.file(p + 3, c)
                        p = c + 1
                    else:
                        p += 2
                    continue
                if w == "template" and self.punct(p + 1, "<"):
                    depth = 0
                    q = p + 1
                    while q < self.end:
                        if self.punct(q, "<"):
                            depth += 1
                        elif self.punct(q, ">"):
                            depth -= 1
                            if depth == 0:
                                break
                        elif self.punct(q, ">>"):
                            depth -= 2
                            if depth <= 0:
                                break
                        elif self.is_open(q):
                            q = self.close_of(q)
                        elif self.punct(q, ";") or self.punct(q, "{"):
                            break
                        q += 1
                    p = q + 1 if (q < self.end and not self.punct(q, ";") and not self.punct(q, "{")) else q
                    continue
                if w in ("typedef", "using"):
                    p = self.find_top(p, self.end, ";") + 1
                    continue
            q = p
            has_eq = False
            name = lparen = 0
            found = False
            while q < self.end:
                u = toks[q]
                if u.kind == PUN:
                    if u.text in (";", "{"):
                        break
                    if u.text == "=":
                        has_eq = True
                    if u.text in ("(", "["):
                        if u.text == "(" and not found and not has_eq and q > p and toks[q - 1].kind == ID:
                            if toks[q - 1].text not in ("__attribute__", "__attribute", "__launch_bounds__"):
                                found = True
                                name = q - 1
                                lparen = q
                        q = self.close_of(q) + 1
                        continue
                q += 1
            if q >= self.end:
                break
            if self.punct(q, "{"):
                c = self.close_of(q)
                main_macro = not found and not has_eq and q > p and toks[q - 1].kind == ID and \
                    toks[q - 1].text == "MAIN"
                if (found or main_macro) and not has_eq:
                    f = Function()
                    f.first_tok = p
                    if found:
                        f.name_tok = name
                        rp = self.close_of(lparen)
                        self.parameters(lparen, rp, f)
                        self.attributes(p, name, f)
                        self.attributes(rp + 1, q, f)
                    else:
                        f.name_tok = q - 1
                        self.attributes(p, q - 1, f)
                    f.sym = toks[f.name_tok].text
                    if self.target == "ttmetal" and f.sym in ("kernel_main", "MAIN"):
                        f.is_kernel = f.is_tt_main = True
                    f.body_open, f.body_close = q, c
                    c0, k0, l0 = len(self.calls), len(self.casts), len(self.loops)
                    f.body = self.block(q)
                    f.calls = self.calls[c0:]
                    f.casts = self.casts[k0:]
                    f.loops = self.loops[l0:]
                    f.index = len(self.funcs)
                    self.funcs.append(f)
                    p = c + 1
                    continue
                if has_eq:
                    semi = self.find_top(q, self.end, ";")
                    self.globals.append(self.decl_stmt(p, semi))
                    p = semi + 1
                    continue
                p = self.find_top(c + 1, self.end, ";") + 1
                continue
            if not found or has_eq:
                if self.starts_decl(p, q):
                    self.globals.append(self.decl_stmt(p, q))
            p = q + 1

    # ---- statements
    def block(self, open_):
        c = self.close_of(open_)
        s = Stmt("Block", open_)
        items = []
        saved = self.sub(c)
        try:
            self.pos = open_ + 1
            while self.pos < self.end:
                before = self.pos
                items.append(self.stmt())
                if self.pos <= before:
                    self.pos = before + 1
        finally:
            self.end = saved
        s.items = items
        self.pos = c + 1
        s.te = self.pos
        return s

    def cond_group(self, lp):
        rp = self.close_of(lp)
        e = self.expr_range(lp + 1, rp)
        self.pos = rp + 1
        return e

    def stmt(self):
        self.enter()
        try:
            st = self._stmt()
        finally:
            self.nest -= 1
        if st.te < self.pos:
            st.te = self.pos
        return st

    def _stmt(self):
        at = self.pos
        t = self.tk(self.pos)
        if t.kind == END:
            return Stmt("Empty", at)
        if t.kind == PUN:
            if t.text == "{":
                return self.block(self.pos)
            if t.text == ";":
                self.pos += 1
                return Stmt("Empty", at)
            return self.simple_stmt()
        if t.kind != ID:
            return self.simple_stmt()
        w = t.text
        if w == "if":
            self.pos += 1
            if self.word(self.pos, "constexpr"):
                self.pos += 1
            if not self.punct(self.pos, "("):
                return self.simple_stmt()
            s = Stmt("If", at)
            s.e0 = self.cond_group(self.pos)
            s.s0 = self.stmt()
            if self.word(self.pos, "else"):
                self.pos += 1
                s.s1 = self.stmt()
            return s
        if w == "for":
            self.pos += 1
            if not self.punct(self.pos, "("):
                return self.simple_stmt()
            lp, rp = self.pos, self.close_of(self.pos)
            s = Stmt("For", at)
            s1 = self.find_top(lp + 1, rp, ";")
            init = cond = step = None
            if s1 < rp:
                s2 = self.find_top(s1 + 1, rp, ";")
                if s1 > lp + 1:
                    if self.starts_decl(lp + 1, s1):
                        init = self.decl_stmt(lp + 1, s1)
                    else:
                        init = Stmt("Expr", lp + 1)
                        init.e0 = self.expr_range(lp + 1, s1)
                        init.te = s1
                if s2 > s1 + 1:
                    cond = self.expr_range(s1 + 1, s2)
                if s2 + 1 < rp:
                    step = self.expr_range(s2 + 1, rp)
            elif rp > lp + 1:
                colon = self.find_top(lp + 1, rp, ":")
                init = self.decl_stmt(lp + 1, colon)
                if colon + 1 < rp:
                    step = self.expr_range(colon + 1, rp)
                cond = "range"
            self.pos = rp + 1
            body = self.stmt()
            s.s0, s.e0, s.e1, s.s1 = init, cond, step, body
            s.te = self.pos
            self.loops.append(s)
            return s
        if w == "while":
            self.pos += 1
            if not self.punct(self.pos, "("):
                return self.simple_stmt()
            s = Stmt("While", at)
            s.e0 = self.cond_group(self.pos)
            s.s0 = self.stmt()
            s.te = self.pos
            self.loops.append(s)
            return s
        if w == "do":
            self.pos += 1
            s = Stmt("Do", at)
            s.s0 = self.stmt()
            if self.word(self.pos, "while") and self.punct(self.pos + 1, "("):
                self.pos += 1
                s.e0 = self.cond_group(self.pos)
            if self.punct(self.pos, ";"):
                self.pos += 1
            s.te = self.pos
            self.loops.append(s)
            return s
        if w == "switch":
            self.pos += 1
            if not self.punct(self.pos, "("):
                return self.simple_stmt()
            s = Stmt("Switch", at)
            s.e0 = self.cond_group(self.pos)
            s.s0 = self.stmt()
            return s
        if w == "case":
            colon = self.find_top(self.pos + 1, self.end, ":")
            s = Stmt("Case", at)
            s.e0 = self.expr_range(self.pos + 1, colon)
            self.pos = colon + 1 if colon < self.end else self.end
            return s
        if w == "default":
            if self.punct(self.pos + 1, ":"):
                self.pos += 2
                return Stmt("Default", at)
            return self.simple_stmt()
        if w == "return":
            semi = self.find_top(self.pos + 1, self.end, ";")
            s = Stmt("Return", at)
            s.e0 = self.expr_range(self.pos + 1, semi) if semi > self.pos + 1 else None
            self.pos = semi + 1 if semi < self.end else self.end
            return s
        if w in ("break", "continue", "goto"):
            semi = self.find_top(self.pos + 1, self.end, ";")
            s = Stmt({"break": "Break", "continue": "Continue", "goto": "Goto"}[w], at)
            self.pos = semi + 1 if semi < self.end else self.end
            return s
        if w in ("asm", "__asm", "__asm__"):
            semi = self.find_top(self.pos + 1, self.end, ";")
            self.pos = semi + 1 if semi < self.end else self.end
            return Stmt("Asm", at)
        if w in ("typedef", "using"):
            semi = self.find_top(self.pos + 1, self.end, ";")
            self.pos = semi + 1 if semi < self.end else self.end
            return Stmt("Empty", at)
        if not is_word(w) and self.punct(self.pos + 1, ":"):
            self.pos += 2
            return Stmt("Label", at)
        return self.simple_stmt()

    def simple_stmt(self):
        at = self.pos
        semi = self.find_top(self.pos, self.end, ";")
        if semi > at and self.starts_decl(at, semi):
            s = self.decl_stmt(at, semi)
        else:
            s = Stmt("Expr", at)
            s.e0 = self.expr_range(at, semi)
        self.pos = semi + 1 if semi < self.end else self.end
        if self.pos <= at:
            self.pos = at + 1
        return s

    # ---- expressions
    def expr_range(self, b, e):
        if b >= e:
            return None
        saved = self.sub(e)
        try:
            self.pos = b
            x = self.comma()
            if self.pos < self.end:
                items = [x]
                while self.pos < self.end:
                    before = self.pos
                    items.append(self.comma())
                    if self.pos <= before:
                        self.pos = before + 1
                x = self.with_items(self.mk("Comma", b, b, self.end), items)
        finally:
            self.end = saved
        self.pos = e
        return x

    def comma(self):
        b = self.pos
        x = self.assign()
        if not self.punct(self.pos, ","):
            return x
        items = [x]
        while self.punct(self.pos, ","):
            self.pos += 1
            items.append(self.assign())
        return self.with_items(self.mk("Comma", b, b, self.pos), items)

    def assign(self):
        self.enter()
        try:
            b = self.pos
            lhs = self.ternary()
            t = self.tk(self.pos)
            if t.kind == PUN and t.text in _ASSIGN:
                op = self.pos
                self.pos += 1
                rhs = self.assign()
                x = self.mk("Assign", op, b, self.pos, lhs, rhs)
                x.op = self.toks[op].text
                return x
            return lhs
        finally:
            self.nest -= 1

    def ternary(self):
        b = self.pos
        c = self.binary(4)
        if not self.punct(self.pos, "?"):
            return c
        q = self.pos
        self.pos += 1
        self.enter()
        try:
            x = self.comma()
            y = None
            if self.punct(self.pos, ":"):
                self.pos += 1
                y = self.assign()
            return self.mk("Ternary", q, b, self.pos, c, x, y)
        finally:
            self.nest -= 1

    def binary(self, minprec):
        b = self.pos
        lhs = self.unary()
        while True:
            t = self.tk(self.pos)
            p = _PREC.get(t.text, -1) if t.kind == PUN else -1
            if p < minprec:
                break
            op = self.pos
            self.pos += 1
            rhs = self.binary(p + 1)
            lhs = self.mk("Binary", op, b, self.pos, lhs, rhs)
            lhs.op = self.toks[op].text
        return lhs

    def unary(self):
        return self._unary()

    def _type_of(self, t0, t1):
        ts = TypeSpec()
        saved = self.sub(t1)
        try:
            self.pos = t0
            self.specifiers(ts)
        finally:
            self.end = saved
        ptr = any(self.toks[q].kind == PUN and self.toks[q].text == "*" for q in range(t0, t1))
        return ts, ptr

    def _unary(self):
        b = self.pos
        t = self.tk(self.pos)
        if t.kind == PUN:
            if t.text in ("-", "+", "!", "~", "*", "&", "++", "--"):
                op = self.pos
                self.pos += 1
                self.enter()
                try:
                    x = self.unary()
                finally:
                    self.nest -= 1
                u = self.mk("Unary", op, b, self.pos, x)
                u.op = self.toks[op].text
                return u
            if t.text == "(" and self.cast_ahead(self.pos):
                rp = self.close_of(self.pos)
                ts, ptr = self._type_of(b + 1, rp)
                self.pos = rp + 1
                self.enter()
                try:
                    x = self.unary()
                finally:
                    self.nest -= 1
                c = self.mk("Cast", b, b, self.pos, x)
                self.casts.append(c)
                c.t0, c.t1 = b + 1, rp
                c.word, c.sym = ts.word, ts.type_sym
                if ptr:
                    c.flags |= F_PTR
                return c
        elif t.kind == ID and t.text == "sizeof":
            self.enter()
            self.nest -= 1
            self.pos += 1
            if self.punct(self.pos, "("):
                rp = self.close_of(self.pos)
                nt = self.toks[self.pos + 1] if rp > self.pos + 1 else None
                if nt is not None and nt.kind == ID and (nt.text in BUILTIN_TYPES or self.is_type_word(nt.text) or
                                                         self.qualifier(nt.text)):
                    s = self.mk("Sizeof", b, b, rp + 1)
                    s.t0, s.t1 = self.pos + 1, rp
                    ts, ptr = self._type_of(s.t0, rp)
                    s.word = ts.word
                    if ptr:
                        s.flags |= F_PTR
                    self.pos = rp + 1
                    return s
            self.enter()
            try:
                x = self.unary()
            finally:
                self.nest -= 1
            return self.mk("Sizeof", b, b, self.pos, x)
        return self.postfix(self.primary())

    def postfix(self, x):
        toks = self.toks
        while True:
            t = self.tk(self.pos)
            if t.kind != PUN:
                break
            b = x.tb
            if t.text == "(":
                lp, rp = self.pos, self.close_of(self.pos)
                args = []
                saved = self.sub(rp)
                try:
                    self.pos = lp + 1
                    while self.pos < self.end:
                        before = self.pos
                        if self.punct(self.pos, ","):
                            self.pos += 1
                            continue
                        args.append(self.assign())
                        if self.pos <= before:
                            self.pos = before + 1
                finally:
                    self.end = saved
                self.pos = rp + 1
                c = self.with_items(self.mk("Call", lp, b, self.pos, x), args)
                self.calls.append(c)
                if x.kind in ("Name", "Member"):
                    c.sym = x.sym
                x = c
            elif t.text == "[":
                lb, rb = self.pos, self.close_of(self.pos)
                i = self.expr_range(lb + 1, rb)
                self.pos = rb + 1
                x = self.mk("Index", lb, b, self.pos, x, i)
            elif t.text in (".", "->"):
                op = self.pos
                self.pos += 1
                if self.word(self.pos, "template"):
                    self.pos += 1
                if self.ident(self.pos):
                    nt = self.pos
                    self.pos += 1
                    x = self.mk("Member", nt, b, self.pos, x)
                    x.sym = toks[nt].text
                    if toks[op].text == "->":
                        x.flags |= F_ARROW
                    if self.punct(self.pos, "<"):
                        gt = self.template_close(self.pos, self.end)
                        if gt and self.punct(gt + 1, "("):
                            self.pos = gt + 1
            elif t.text in ("++", "--"):
                op = self.pos
                self.pos += 1
                x = self.mk("Postfix", op, b, self.pos, x)
                x.op = toks[op].text
            else:
                break
        return x

    def primary(self):
        b = self.pos
        if self.pos >= self.end:
            return self.mk("Other", b, b, b)
        toks = self.toks
        t = toks[self.pos]
        if t.kind == NUM:
            self.pos += 1
            return self.mk("Num", b, b, self.pos)
        if t.kind == CHR:
            self.pos += 1
            return self.mk("Chr", b, b, self.pos)
        if t.kind == STR:
            while self.pos < self.end and toks[self.pos].kind == STR:
                self.pos += 1
            return self.mk("Str", b, b, self.pos)
        if t.kind == ID:
            w = t.text
            if w in ("reinterpret_cast", "static_cast", "const_cast", "dynamic_cast") and self.punct(self.pos + 1, "<"):
                gt = self.template_close(self.pos + 1, self.end)
                if gt and self.punct(gt + 1, "("):
                    lp, rp = gt + 1, self.close_of(gt + 1)
                    ts, ptr = self._type_of(b + 2, gt)
                    x = self.expr_range(lp + 1, rp)
                    self.pos = rp + 1
                    c = self.mk("Cast", b, b, self.pos, x)
                    self.casts.append(c)
                    c.t0, c.t1 = b + 2, gt
                    c.word, c.sym = ts.word, ts.type_sym
                    c.flags |= F_CXX | (F_PTR if ptr else 0)
                    return c
            flags = 0
            last = self.pos
            self.pos += 1
            while True:
                if self.punct(self.pos, "<"):
                    lt = toks[last].text
                    likely = lt in ("get_arg_val", "get_common_arg_val", "get_compile_time_arg_val") or \
                        self.is_type_word(lt) or bool(flags & F_SCOPED)
                    if not likely and self.pos + 1 < self.end:
                        inn = toks[self.pos + 1]
                        likely = inn.kind == ID and (inn.text in BUILTIN_TYPES or inn.text in ("true", "false") or
                                                     self.is_type_word(inn.text))
                    if likely:
                        gt = self.template_close(self.pos, self.end)
                        if gt and (self.punct(gt + 1, "(") or self.punct(gt + 1, "{") or self.punct(gt + 1, "::")):
                            flags |= F_TEMPLATE
                            self.pos = gt + 1
                if self.punct(self.pos, "::") and self.ident(self.pos + 1):
                    flags |= F_SCOPED
                    last = self.pos + 1
                    self.pos += 2
                    continue
                break
            x = self.mk("Name", last, b, self.pos)
            x.sym = toks[last].text
            x.flags = flags
            return x
        if t.kind == PUN:
            if t.text == "(":
                rp = self.close_of(self.pos)
                self.enter()
                try:
                    inner = self.expr_range(self.pos + 1, rp) if rp > self.pos + 1 else None
                finally:
                    self.nest -= 1
                self.pos = rp + 1
                if inner is None:
                    return self.mk("Other", b, b, self.pos)
                return inner
            if t.text == "{":
                rc = self.close_of(self.pos)
                items = []
                saved = self.sub(rc)
                try:
                    self.pos = b + 1
                    while self.pos < self.end:
                        before = self.pos
                        if self.punct(self.pos, ","):
                            self.pos += 1
                            continue
                        items.append(self.assign())
                        if self.pos <= before:
                            self.pos = before + 1
                finally:
                    self.end = saved
                self.pos = rc + 1
                return self.with_items(self.mk("Init", b, b, self.pos), items)
            if t.text == "[":
                self.pos = self.close_of(self.pos) + 1
                return self.mk("Other", b, b, self.pos)
            if t.text == "::":
                self.pos += 1
                return self.primary()
        self.pos += 1
        return self.mk("Other", b, b, self.pos)


def mark_types(lx: Lexed) -> set:
    toks = lx.toks
    n = len(toks)
    types = set()
    i = 0
    while i + 1 < n:
        t = toks[i]
        if t.kind == ID:
            w = t.text
            if w in ("struct", "union", "enum", "class", "typename"):
                u = toks[i + 1]
                if u.kind == ID and not is_word(u.text):
                    types.add(u.text)
            elif w == "using":
                u = toks[i + 1]
                if u.kind == ID and i + 2 < n and toks[i + 2].kind == PUN and toks[i + 2].text == "=":
                    types.add(u.text)
            elif w == "typedef":
                last = None
                j = i + 1
                while j < n:
                    u = toks[j]
                    if u.kind == PUN:
                        if u.text == ";":
                            break
                        if u.text in ("{", "(", "[") and lx.match[j] > j:
                            if u.text == "(":
                                for k in range(j + 1, lx.match[j]):
                                    if toks[k].kind == ID and not is_word(toks[k].text):
                                        last = toks[k].text
                            j = lx.match[j]
                            j += 1
                            continue
                    elif u.kind == ID and not is_word(u.text):
                        last = u.text
                    elif u.kind == END:
                        break
                    j += 1
                if last:
                    types.add(last)
                i = j
        i += 1
    return types


# ------------------------------------------------------------------ constants
def parse_int_literal(text: str) -> Optional[int]:
    t = text.rstrip("uUlL")
    if not t:
        return None
    base, i = 10, 0
    if len(t) > 1 and t[0] == "0" and t[1] in "xX":
        base, i = 16, 2
    elif len(t) > 1 and t[0] == "0" and t[1] in "bB":
        base, i = 2, 2
    elif len(t) > 1 and t[0] == "0":
        base, i = 8, 1
    digits = t[i:].replace("'", "")
    if not digits:
        return None
    v = 0
    for ch in digits:
        d = _HEXVAL.get(ch)
        if d is None or d >= base:
            return None
        v = v * base + d
        if v >= (1 << 64):
            return None
    return v if v < (1 << 63) else None


_HEXVAL = {ch: int(ch, 16) for ch in "0123456789abcdefABCDEF"}
_I64 = (-(1 << 63), (1 << 63) - 1)


def _ok64(v):
    return _I64[0] <= v <= _I64[1]


def const_eval(toks, e, env, depth=0) -> Optional[int]:
    if e is None or depth > 64:
        return None
    k = e.kind
    if k == "Num":
        return parse_int_literal(toks[e.tok].text)
    if k == "Name":
        if e.sym == "true":
            return 1
        if e.sym == "false":
            return 0
        return env.get(e.sym)
    if k == "Cast":
        if e.flags & F_PTR:
            return None
        if e.word and e.word not in INTEGER_TYPES:
            return None
        return const_eval(toks, e.a, env, depth + 1)
    if k == "Sizeof":
        if e.a is None and e.word and not (e.flags & F_PTR):
            b = elem_bytes_of(e.word)
            return b or None
        return None
    if k == "Unary":
        v = const_eval(toks, e.a, env, depth + 1)
        if v is None:
            return None
        if e.op == "-":
            return v if v == _I64[0] else -v
        if e.op == "+":
            return v
        if e.op == "~":
            return ~v
        if e.op == "!":
            return int(not v)
        return None
    if k == "Ternary":
        c = const_eval(toks, e.a, env, depth + 1)
        if c is None:
            return None
        return const_eval(toks, e.b if c else e.c, env, depth + 1)
    if k == "Comma":
        if len(e.items) == 1:
            return const_eval(toks, e.items[0], env, depth + 1)
        return None
    if k == "Binary":
        a = const_eval(toks, e.a, env, depth + 1)
        if a is None:
            return None
        b = const_eval(toks, e.b, env, depth + 1)
        if b is None:
            return None
        op = e.op
        if op in ("+", "-", "*"):
            r = a + b if op == "+" else a - b if op == "-" else a * b
            return r if _ok64(r) else None
        if op in ("/", "%"):
            if b == 0 or (a == _I64[0] and b == -1):
                return None
            q = abs(a) // abs(b)
            q = q if (a >= 0) == (b >= 0) else -q
            return q if op == "/" else a - q * b
        if op == "<<":
            if b < 0 or b > 62 or a < 0:
                return None
            r = a << b
            return r if _ok64(r) else None
        if op == ">>":
            return None if b < 0 or b > 63 else a >> b
        table = {"&": lambda: a & b, "|": lambda: a | b, "^": lambda: a ^ b, "<": lambda: int(a < b),
                 ">": lambda: int(a > b), "<=": lambda: int(a <= b), ">=": lambda: int(a >= b),
                 "==": lambda: int(a == b), "!=": lambda: int(a != b), "&&": lambda: int(bool(a and b)),
                 "||": lambda: int(bool(a or b))}
        f = table.get(op)
        return f() if f else None
    return None


# ------------------------------------------------------------------ analysis context
def children(x: Expr):
    if x.a is not None:
        yield x.a
    if x.b is not None:
        yield x.b
    if x.c is not None:
        yield x.c
    if x.items:
        yield from x.items


def walk_expr(x: Optional[Expr]):
    if x is None:
        return
    stack = [x]
    while stack:
        y = stack.pop()
        yield y
        if y.items:
            stack.extend(reversed(y.items))
        if y.c is not None:
            stack.append(y.c)
        if y.b is not None:
            stack.append(y.b)
        if y.a is not None:
            stack.append(y.a)


def walk_stmts(s: Optional[Stmt]):
    """Every statement under s (pre-order)."""
    if s is None:
        return
    stack = [s]
    while stack:
        t = stack.pop()
        yield t
        if t.kind == "Block":
            stack.extend(reversed(t.items))
        elif t.kind != "Decl":
            if t.s1 is not None:
                stack.append(t.s1)
            if t.s0 is not None:
                stack.append(t.s0)


def stmt_exprs(s: Stmt):
    if s.kind == "Decl":
        for d in s.items:
            yield from d.dims
            if d.init is not None:
                yield d.init
        return
    if s.kind == "Block":
        return
    if isinstance(s.e0, Expr):
        yield s.e0
    if isinstance(s.e1, Expr):
        yield s.e1


class Ctx:
    def __init__(self, src, target, exp, lx, parser):
        self.src, self.target, self.exp, self.lx = src, target, exp, lx
        self.toks = lx.toks
        self.funcs: List[Function] = parser.funcs
        self.globals: List[Stmt] = parser.globals
        self.findings: List[dict] = []
        self.cenv: Dict[str, int] = {}
        self.gvar: Dict[str, Decl] = {}
        self.fn_of: Dict[str, Function] = {}
        self.fn_barrier: Dict[int, bool] = {}
        self.fn_ret_varying: Dict[int, bool] = {}
        self.calls: Dict[int, List[Tuple[Function, Expr]]] = {}
        self.kernels: List[Function] = []
        self.entry: Optional[Function] = None
        self.res: Dict[int, dict] = {}
        self.fn: Optional[Function] = None
        self.var: Dict[str, Decl] = {}
        self.varying: set = set()
        self.cls: Dict[str, tuple] = {}
        self.flags: Dict[str, int] = {}
        self.file_local = False
        self.rep: Dict[str, Any] = {}
        self.is_cl, self.is_cuda, self.is_tt = target == "opencl", target == "cuda", target == "ttmetal"

    def text(self, i):
        return self.toks[i].text

    def tokens_text(self, b, e, maxlen=60):
        if b >= e or e > len(self.toks):
            return ""
        f, l = self.toks[b], self.toks[e - 1]
        raw = self.src[f.off:l.off + len(l.text)]
        out = []
        size = 0
        space = False
        for ch in raw:
            if ch in " \t\n\r":
                space = True
                continue
            if space and out:
                out.append(" ")
                size += 1
            space = False
            out.append(ch)
            size += 1
            if size >= maxlen:
                out.append("...")
                break
        return "".join(out)

    def expr_text(self, e, maxlen=60):
        return "" if e is None else self.tokens_text(e.tb, e.te, maxlen)

    def same_text(self, a, b):
        if a is None or b is None:
            return a is b
        if a.te - a.tb != b.te - b.tb:
            return False
        toks = self.toks
        for i in range(a.te - a.tb):
            s, t = toks[a.tb + i], toks[b.tb + i]
            if s.kind != t.kind or s.text != t.text:
                return False
        return True

    def add(self, sev, code, tok, msg, fn="cur"):
        t = self.toks[tok] if tok < len(self.toks) else self.toks[-1]
        self.add_lc(sev, code, t.line, t.col, msg, fn)

    def add_lc(self, sev, code, line, col, msg, fn="cur"):
        f = self.fn if fn == "cur" else fn
        self.findings.append({"severity": sev, "code": code, "message": msg, "line": line, "col": col,
                              "function": f.sym if f is not None else ""})

    def cint(self, e):
        return const_eval(self.toks, e, self.cenv)

    def decl_of(self, sym):
        d = self.var.get(sym)
        if d is not None:
            return d
        return self.gvar.get(sym)

    def root_sym(self, e):
        guard = 0
        while e is not None and guard < 64:
            guard += 1
            k = e.kind
            if k == "Name":
                return e.sym
            if k in ("Index", "Member", "Cast", "Postfix"):
                e = e.a
            elif k == "Unary":
                if e.op in ("*", "&", "++", "--"):
                    e = e.a
                else:
                    return ""
            elif k == "Binary":
                if e.op in ("+", "-"):
                    l = self.root_sym(e.a)
                    d = self.decl_of(l) if l else None
                    if d is not None and (d.ptr or d.is_array()):
                        return l
                    if e.op == "+":
                        r = self.root_sym(e.b)
                        dr = self.decl_of(r) if r else None
                        if dr is not None and (dr.ptr or dr.is_array()):
                            return r
                    return l
                return ""
            elif k == "Comma":
                if not e.items:
                    return ""
                e = e.items[-1]
            else:
                return ""
        return ""

    def callee_name(self, x):
        return x.a.kind == "Name"

    def varying_source(self, x):
        if x.kind == "Call":
            if self.is_cl and x.sym in ("get_global_id", "get_local_id", "get_sub_group_local_id",
                                        "get_local_linear_id", "get_global_linear_id", "get_sub_group_id"):
                return True
            if self.is_cuda and x.sym == "thread_rank":
                return True
            g = self.fn_of.get(x.sym)
            if g is not None and self.fn_ret_varying.get(g.index):
                return True
            return False
        return x.kind == "Name" and self.is_cuda and x.sym == "threadIdx"

    def is_varying(self, e):
        for x in walk_expr(e):
            if x.kind == "Name" and x.sym in self.varying:
                return True
            if self.varying_source(x):
                return True
        return False

    def is_barrier_call(self, x):
        if x.kind != "Call":
            return False
        if self.is_cl:
            if x.sym in ("barrier", "work_group_barrier", "sub_group_barrier"):
                return x.a.kind == "Name"
        elif self.is_cuda:
            if x.sym in ("__syncthreads", "__syncthreads_count", "__syncthreads_and", "__syncthreads_or"):
                return True
            if x.sym == "sync" and x.a.kind == "Member":
                return True
        if x.a.kind == "Name":
            g = self.fn_of.get(x.sym)
            if g is not None and self.fn_barrier.get(g.index):
                return True
        return False


def type_text(c: Ctx, d: Decl) -> str:
    sp = d.ts.space
    t = ""
    if sp == "global":
        t += "__global "
    elif sp == "local":
        t += "__shared__ " if c.is_cuda else "__local "
    elif sp == "constant":
        t += "__constant__ " if c.is_cuda else "__constant "
    elif sp == "private":
        t += "__private "
    if d.ts.is_const:
        t += "const "
    t += d.ts.word or d.ts.type_sym or "?"
    return t + "*" * d.ptr


def vector_width_of_call(n: str):
    for pre, ld in (("vloada_half", True), ("vstorea_half", False), ("vload_half", True), ("vstore_half", False),
                    ("vload", True), ("vstore", False)):
        if n.startswith(pre):
            rest = n[len(pre):]
            break
    else:
        return 0, False, False
    if rest.startswith("_"):
        m = re.search(r"[0-9]", rest)
        rest = rest[m.start():] if m else ""
    w = 0
    for ch in rest:
        if not ch.isdigit():
            break
        w = w * 10 + int(ch)
        if w > 16:
            break
    if w == 0:
        w = 1
    if w not in (1, 2, 3, 4, 8, 16):
        return 0, False, False
    return w, ld, not ld


_ATOMICS = ("atomic_", "atom_", "atomicAdd", "atomicSub", "atomicExch", "atomicMin", "atomicMax", "atomicInc",
            "atomicDec", "atomicCAS", "atomicAnd", "atomicOr", "atomicXor", "__atomic_")


def is_atomic_name(n):
    return n.startswith(_ATOMICS)


# ------------------------------------------------------------------ setup
def build_constants(c: Ctx, macros: Dict[str, Optional[int]]):
    env: Dict[str, int] = {}
    poisoned = set()
    for name, v in macros.items():
        if v is None:
            poisoned.add(name)
        else:
            env[name] = v
    macro_names = set(macros)
    c.cenv = env
    decls = []
    for f_or_g in _all_decls_in_order(c):
        decls.append(f_or_g)
    for d in decls:
        if not d.sym or d.sym in macro_names or d.sym in poisoned:
            continue
        ok = (not d.is_param and d.ts.is_const and not d.ptr and not d.is_array() and d.init is not None and
              (d.ts.word in ("", "auto") or d.ts.word in INTEGER_TYPES))
        v = const_eval(c.toks, d.init, env) if ok else None
        if v is None:
            poisoned.add(d.sym)
            env.pop(d.sym, None)
        elif d.sym in env and env[d.sym] != v:
            poisoned.add(d.sym)
            env.pop(d.sym, None)
        else:
            env[d.sym] = v


def _all_decls_in_order(c: Ctx):
    """Declarations in parse order (the native parser numbers them so)."""
    items = []
    order = []
    for s in c.globals:
        order.append((s.tok, 0, s))
    for f in c.funcs:
        order.append((f.first_tok, 1, f))
    order.sort(key=lambda x: x[0])
    for _, kind, obj in order:
        if kind == 0:
            items.extend(_decls_in_stmt(obj))
        else:
            f = obj
            for p in f.params:
                items.append(p)
                items.extend(_decls_in_exprs(p.dims))
            items.extend(_decls_in_stmt(f.body))
    return items


def _decls_in_exprs(exprs):
    return []


def _decls_in_stmt(s):
    out = []
    for t in walk_stmts(s):
        if t.kind == "Decl":
            out.extend(t.items)
        elif t.kind == "For" and t.s0 is not None and t.s0.kind == "Decl":
            pass
    return out


def build_functions(c: Ctx):
    for s in c.globals:
        for d in s.items:
            if d.sym and d.sym not in c.gvar:
                c.gvar[d.sym] = d
            if d.ts.space == "local":
                c.file_local = True
    for f in c.funcs:
        if f.sym not in c.fn_of:
            c.fn_of[f.sym] = f
        if f.is_kernel:
            c.kernels.append(f)
    for f in c.funcs:
        c.res[f.index] = {"local": 0, "local_unknown": False, "dyn": False, "private": 0, "priv": [], "regs": 0,
                          "barriers": 0, "cbs": [], "rt": -1, "ct": -1}
        c.fn_barrier[f.index] = False
    for f in c.funcs:
        out = []
        direct = False
        for x in f.calls:
            named = x.a.kind == "Name"
            g = c.fn_of.get(x.sym) if named else None
            if g is not None:
                out.append((g, x))
            if c.is_barrier_call(x):
                direct = True
                if g is None:
                    c.res[f.index]["barriers"] += 1
        c.calls[f.index] = out
        c.fn_barrier[f.index] = direct
    for _ in range(32):
        changed = False
        for f in c.funcs:
            if c.fn_barrier[f.index]:
                continue
            for g, _x in c.calls[f.index]:
                if c.fn_barrier[g.index]:
                    c.fn_barrier[f.index] = True
                    changed = True
                    break
        if not changed:
            break
    if c.kernels:
        c.entry = c.kernels[-1]
        name = c.exp.get("name") or ""
        if name and not c.is_tt:
            for k in c.kernels:
                if k.sym == name:
                    c.entry = k


def load_vars(c: Ctx, f: Function):
    var = {}
    for d in f.params:
        if d.sym and d.sym not in var:
            var[d.sym] = d
    for s in walk_stmts(f.body):
        if s.kind == "Decl":
            for d in s.items:
                if d.sym and d.sym not in var:
                    var[d.sym] = d
        elif s.kind == "For" and s.s0 is not None and s.s0.kind == "Decl":
            pass
    c.var = var


def taint(c: Ctx, f: Function):
    edges: Dict[Any, List[Any]] = {}
    seeds = set()
    counter = [0]

    def edge(a, b):
        edges.setdefault(a, []).append(b)

    def new_ctx(parent):
        counter[0] += 1
        k = ("ctx", counter[0])
        if parent is not None:
            edge(parent, k)
        return k

    def walk(e, target, ctx):
        """Uses in e flow into `target` (None: nowhere); assignments are recorded under ctx."""
        if e is None:
            return
        if e.kind == "Assign":
            r = c.root_sym(e.a)
            t = r or None
            if t is not None and ctx is not None:
                edge(ctx, t)
            walk(e.b, t, ctx)
            walk(e.a, t, ctx)
            if t is not None and target is not None:
                edge(t, target)
            return
        if target is not None:
            if e.kind == "Name" and e.sym:
                edge(e.sym, target)
            if c.varying_source(e):
                seeds.add(target)
        for ch in children(e):
            walk(ch, target, ctx)

    def stmt(s, ctx):
        if s is None:
            return
        k = s.kind
        if k == "Block":
            for t in s.items:
                stmt(t, ctx)
        elif k == "Decl":
            for d in s.items:
                if not d.sym or d.init is None:
                    continue
                if ctx is not None:
                    edge(ctx, d.sym)
                walk(d.init, d.sym, ctx)
        elif k == "If":
            kk = new_ctx(ctx)
            walk(s.e0, kk, ctx)
            stmt(s.s0, kk)
            stmt(s.s1, kk)
        elif k == "For":
            stmt(s.s0, ctx)
            kk = new_ctx(ctx)
            walk(s.e0 if isinstance(s.e0, Expr) else None, kk, kk)
            walk(s.e1, None, kk)
            stmt(s.s1, kk)
        elif k in ("While", "Do", "Switch"):
            kk = new_ctx(ctx)
            walk(s.e0, kk, kk)
            stmt(s.s0, kk)
        elif k in ("Return", "Expr", "Case"):
            walk(s.e0, None, ctx)

    stmt(f.body, None)
    on = set(seeds)
    queue = list(seeds)
    while queue:
        u = queue.pop()
        for v in edges.get(u, ()):
            if v not in on:
                on.add(v)
                queue.append(v)
    c.varying = {k for k in on if isinstance(k, str)}


def ret_varying(c: Ctx, f: Function):
    for s in walk_stmts(f.body):
        if s.kind == "Return" and s.e0 is not None and c.is_varying(s.e0):
            c.fn_ret_varying[f.index] = True
            return


# ------------------------------------------------------------------ resources
CAP = 1 << 62  # sizes saturate here, as in the native analyzer


def sat_mul(a, b):
    return min(a * b, CAP)


def sat_add(a, b):
    return min(a + b, CAP)


def elem_bytes(d: Decl) -> int:
    if d.ptr:
        return 8
    if not d.ts.word:
        return 4
    b = elem_bytes_of(d.ts.word)
    return b or 4


def elements(c: Ctx, d: Decl):
    if d.unsized:
        return None
    n = 1
    for e in d.dims:
        v = c.cint(e)
        if v is None or v <= 0:
            return None
        n *= v
        if not _ok64(n):
            return None
    return n


def storage_elsewhere(d: Decl) -> bool:
    return d.ts.space in ("local", "constant", "global") or d.ts.is_static or d.ts.is_extern


def decl_regs(c: Ctx, d: Decl) -> int:
    if storage_elsewhere(d) and not d.ptr:
        return 0
    if d.is_ref:
        return 0
    if d.ptr:
        return 2
    if d.is_array():
        n = elements(c, d)
        if n is None:
            return 0
        b = sat_mul(n, elem_bytes(d))
        return (b + 3) // 4 if b <= 64 else 0
    return (elem_bytes(d) + 3) // 4


def regs(c: Ctx, s: Optional[Stmt], depth=0) -> int:
    if s is None or depth > MAX_NEST:
        return 0
    k = s.kind
    if k == "Block":
        own = inner = 0
        for t in s.items:
            if t.kind == "Decl":
                own += sum(decl_regs(c, d) for d in t.items)
            else:
                inner = max(inner, regs(c, t, depth + 1))
        return own + inner
    if k == "Decl":
        return sum(decl_regs(c, d) for d in s.items)
    if k == "If":
        return max(regs(c, s.s0, depth + 1), regs(c, s.s1, depth + 1))
    if k == "For":
        return regs(c, s.s0, depth + 1) + regs(c, s.s1, depth + 1)
    if k in ("While", "Do", "Switch"):
        return regs(c, s.s0, depth + 1)
    return 0


def rules_resources(c: Ctx, f: Function):
    r = c.res[f.index]
    for s in walk_stmts(f.body):
        if s.kind != "Decl":
            continue
        for d in s.items:
            if d.ptr or d.is_ref:
                continue
            n = elements(c, d)
            if d.ts.space == "local":
                if d.unsized or d.ts.is_extern:
                    r["dyn"] = True
                elif n is not None:
                    r["local"] = sat_add(r["local"], sat_mul(n, elem_bytes(d)))
                else:
                    r["local_unknown"] = True
            elif not storage_elsewhere(d) and d.is_array():
                name = d.sym
                b = sat_mul(n, elem_bytes(d)) if n is not None else -1
                line = c.toks[d.name_tok].line
                if n is not None:
                    r["private"] = sat_add(r["private"], b)
                if n is not None and b > 1024:
                    c.add("warning", "res.private-array", d.name_tok,
                          f"private array `{name}` takes {b} bytes per work-item: it will live in slow scratch memory")
                elif n is None and not d.unsized:
                    c.add("warning", "res.private-array", d.name_tok,
                          f"private array `{name}` has a size that is not a compile-time constant")
                r["priv"].append({"name": name, "bytes": None if b < 0 else b, "line": line})
    r["regs"] = regs(c, f.body) + 4


def aggregate_resources(c: Ctx):
    file_local = 0
    file_unknown = file_dyn = False
    for s in c.globals:
        for d in s.items:
            if d.ts.space != "local" or d.ptr:
                continue
            n = elements(c, d)
            if d.unsized or d.ts.is_extern:
                file_dyn = True
            elif n is not None:
                file_local = sat_add(file_local, sat_mul(n, elem_bytes(d)))
            else:
                file_unknown = True
    max_wg = c.exp.get("max_work_group_size") or 1024
    for info, k in zip(c.rep["abi"]["kernels"], c.kernels):
        seen = {k.index}
        stack = [k]
        local, priv = file_local, 0
        unknown, dyn = file_unknown, file_dyn
        callee_regs = barriers = 0
        cbs: List[dict] = []
        while stack:
            g = stack.pop()
            r = c.res[g.index]
            local = sat_add(local, r["local"])
            unknown |= r["local_unknown"]
            dyn |= r["dyn"]
            priv = sat_add(priv, r["private"])
            barriers += r["barriers"]
            if g is not k:
                callee_regs = max(callee_regs, r["regs"])
            for cb in r["cbs"]:
                ex = next((x for x in cbs if x["cb"] == cb["cb"]), None)
                if ex is None:
                    cbs.append(dict(cb))
                elif (cb["tiles"] or 0) > (ex["tiles"] or 0):
                    ex.update(cb)
            for h, _x in reversed(c.calls[g.index]):
                if h.index not in seen:
                    seen.add(h.index)
                    stack.append(h)
        info["local_mem_bytes"] = local
        info["local_mem_unknown"] = unknown
        info["dynamic_shared"] = dyn
        info["private_bytes"] = priv
        info["registers"] = c.res[k.index]["regs"] + callee_regs
        info["barriers"] = barriers
        reqd = [c.cint(e) for e in k.reqd]
        reqd = [v if v is not None else -1 for v in reqd]
        bounds = [c.cint(e) for e in k.bounds]
        bounds = [v if v is not None else -1 for v in bounds]
        info["reqd_work_group_size"] = reqd or None
        info["launch_bounds"] = bounds or None
        what = "shared" if c.is_cuda else "local"
        limit = c.exp.get("local_mem_bytes") or (49152 if c.is_cuda else 65536)
        if not c.is_tt and local > limit:
            c.add("error", "res.local-mem-limit", k.name_tok,
                  f"kernel `{k.sym}` declares {local} bytes of {what} memory; the limit is {limit}", k)
        cb_bytes = 0
        for cb in cbs:
            if cb["bytes"] and cb["bytes"] > 0:
                cb_bytes = sat_add(cb_bytes, cb["bytes"])
        if c.is_tt:
            l1 = c.exp.get("local_mem_bytes") or (1 << 20)
            if cb_bytes > l1:
                c.add("error", "res.local-mem-limit", k.name_tok,
                      f"circular buffers need at least {cb_bytes} bytes of L1; the budget is {l1}", k)
        elif info["registers"] > 128:
            c.add("warning", "res.register-pressure", k.name_tok,
                  f"kernel `{k.sym}` keeps about {info['registers']} 32-bit values live per work-item: expect "
                  "spills or low occupancy", k)
        if reqd:
            if all(v > 0 for v in reqd):
                prod = 1
                for v in reqd:
                    prod = sat_mul(prod, v)
                if prod > max_wg:
                    c.add("error", "res.work-group-size", k.name_tok,
                          f"reqd_work_group_size asks for {prod} work-items; the device limit is {max_wg}", k)
        if bounds and bounds[0] > max_wg:
            c.add("error", "res.work-group-size", k.name_tok,
                  f"__launch_bounds__ asks for {bounds[0]} threads per block; the limit is {max_wg}", k)
        if k is c.entry:
            res = c.rep["resources"]
            res.update(local_mem_bytes=local, local_mem_unknown=unknown, dynamic_shared=dyn, private_bytes=priv,
                       private_arrays=list(c.res[k.index]["priv"]), registers_estimate=info["registers"],
                       reqd_work_group_size=reqd or None, launch_bounds=bounds or None,
                       circular_buffers=cbs, cb_bytes=cb_bytes)
            c.rep["abi"]["runtime_args"] = _none_if_neg(c.res[k.index]["rt"])
            c.rep["abi"]["compile_time_args"] = _none_if_neg(c.res[k.index]["ct"])


def _none_if_neg(v):
    return None if v is None or v < 0 else v


# ------------------------------------------------------------------ synchronisation
_REL_WORDS = {"return", "break", "continue", "goto", "case", "default", "barrier", "work_group_barrier",
              "sub_group_barrier", "__syncthreads", "__syncthreads_count", "__syncthreads_and", "__syncthreads_or",
              "sync"}


class Relevance:
    """Prefix counts of the tokens that can change a sync walk's state (see rules_sync.cpp)."""

    def __init__(self, prefix, base):
        self.prefix, self.base = prefix, base

    def range(self, tb, te):
        if te <= tb or tb < self.base:
            return True
        a = tb - self.base
        b = min(te - self.base, len(self.prefix) - 1)
        if a >= b:
            return True
        return self.prefix[b] != self.prefix[a]


def build_relevance(c: Ctx, f: Function, local: Optional[set]):
    """One pass: (sync prefix, race prefix or None)."""
    base = f.body_open
    end = min(f.body_close + 1, len(c.toks))
    sync = [0]
    race = [0] if local is not None else None
    n = m = 0
    for i in range(base, end):
        t = c.toks[i]
        if t.kind == ID:
            w = t.text
            if w in _REL_WORDS:
                n += 1
                m += 1
            else:
                g = c.fn_of.get(w)
                if g is not None and c.fn_barrier[g.index]:
                    n += 1
                    m += 1
                elif local is not None and w in local:
                    m += 1
        sync.append(n)
        if race is not None:
            race.append(m)
    return Relevance(sync, base), (Relevance(race, base) if race is not None else None)


def call_name_tok(x: Expr):
    return x.a.tok if x.a.kind in ("Name", "Member") else x.tb


class BarrierWalk:
    def __init__(self, c: Ctx):
        self.c = c
        self.conds: List[Expr] = []
        self.frames: List[dict] = []
        self.ret_tok = 0
        self.ret_div = False
        self.count = True
        self.rel: Optional[Relevance] = None

    def loops(self):
        return sum(1 for f in self.frames if not f["switch"])

    def barrier(self, x):
        c = self.c
        t = call_name_tok(x)
        prim = not (x.a.kind == "Name" and x.sym in c.fn_of) if c.is_barrier_call(x) else False
        name = c.text(t) + ("()" if prim else "() (it contains a barrier)")
        if self.count and prim:
            c.rep["sync"]["barriers"] += 1
        why = ""
        if self.conds:
            k = self.conds[-1]
            why = (f"{name} inside a branch that depends on the work-item id (`{c.expr_text(k)}`, line "
                   f"{c.toks[k.tb].line}): work-items that skip it hang or corrupt the barrier")
        elif self.ret_div:
            why = (f"{name} after the work-item-dependent `return` at line {c.toks[self.ret_tok].line}: work-items "
                   "that returned never reach it")
        else:
            for fr in self.frames:
                if not fr["switch"] and fr["div_exit"]:
                    why = (f"{name} in a loop that work-items leave at different iterations "
                           f"(`{c.text(fr['exit_tok'])}` at line {c.toks[fr['exit_tok']].line})")
                    break
        if why:
            c.add("error", "sync.barrier-divergent", t, why)
            if self.count:
                c.rep["sync"]["divergent_barriers"] += 1
        if self.loops() > 0 and self.count:
            c.rep["sync"]["barriers_in_loops"] += 1
            for fr in reversed(self.frames):
                if fr["switch"]:
                    continue
                if not fr["reported"]:
                    fr["reported"] = True
                    c.add("info", "sync.barrier-in-loop", t, f"{name} runs on every iteration of the enclosing loop")
                break

    def expr(self, e):
        if e is None:
            return
        if self.rel is not None and not self.rel.range(e.tb, e.te):
            return
        c = self.c
        if e.kind == "Ternary" and c.is_varying(e.a):
            self.expr(e.a)
            self.conds.append(e.a)
            self.expr(e.b)
            self.expr(e.c)
            self.conds.pop()
            return
        if e.kind == "Binary" and e.op in ("&&", "||") and c.is_varying(e.a):
            self.expr(e.a)
            self.conds.append(e.a)
            self.expr(e.b)
            self.conds.pop()
            return
        if e.kind == "Call" and c.is_barrier_call(e):
            for a in e.items:
                self.expr(a)
            self.barrier(e)
            return
        for ch in children(e):
            self.expr(ch)

    def loop(self, cond, step, body, cond_first):
        c = self.c
        v = cond is not None and c.is_varying(cond)
        if cond_first:
            self.expr(cond)
        fr = {"switch": False, "div_at_entry": len(self.conds), "exit_tok": 0, "div_exit": False, "reported": False}
        self.frames.append(fr)
        if v:
            self.conds.append(cond)
        ret_before = self.ret_div
        self.stmt(body)
        self.expr(step)
        if not cond_first:
            self.expr(cond)
        if (self.frames[-1]["div_exit"] or self.ret_div != ret_before) and len(self.frames) <= 4:
            saved = self.count
            self.count = False
            self.stmt(body)
            self.count = saved
        if v:
            self.conds.pop()
        self.frames.pop()

    def stmt(self, s):
        if s is None:
            return
        if self.rel is not None and not self.rel.range(s.tok, s.te):
            return
        c = self.c
        k = s.kind
        if k == "Block":
            for t in s.items:
                self.stmt(t)
        elif k == "Decl":
            for d in s.items:
                self.expr(d.init)
        elif k in ("Expr", "Case"):
            self.expr(s.e0)
        elif k == "Return":
            self.expr(s.e0)
            if self.conds and not self.ret_div:
                self.ret_div = True
                self.ret_tok = s.tok
        elif k in ("Break", "Continue"):
            for fr in reversed(self.frames):
                if k == "Continue" and fr["switch"]:
                    continue
                if len(self.conds) > fr["div_at_entry"] and not fr["div_exit"]:
                    fr["div_exit"] = True
                    fr["exit_tok"] = s.tok
                break
        elif k == "If":
            self.expr(s.e0)
            v = c.is_varying(s.e0)
            if v:
                self.conds.append(s.e0)
            self.stmt(s.s0)
            self.stmt(s.s1)
            if v:
                self.conds.pop()
        elif k == "For":
            self.stmt(s.s0)
            self.loop(s.e0 if isinstance(s.e0, Expr) else None, s.e1, s.s1, True)
        elif k == "While":
            self.loop(s.e0, None, s.s0, True)
        elif k == "Do":
            self.loop(s.e0, None, s.s0, False)
        elif k == "Switch":
            self.expr(s.e0)
            v = c.is_varying(s.e0)
            self.frames.append({"switch": True, "div_at_entry": len(self.conds), "exit_tok": 0, "div_exit": False,
                                "reported": False})
            if v:
                self.conds.append(s.e0)
            self.stmt(s.s0)
            if v:
                self.conds.pop()
            self.frames.pop()


DEAD = None  # a dead flow state


class Race:
    def __init__(self, c: Ctx):
        self.c = c
        self.frames: List[dict] = []
        self.nest = 0
        self.rel: Optional[Relevance] = None

    def contains(self, s, q):
        for x in s:
            if x[0] == q[0] and self.c.same_text(x[1], q[1]):
                return True
        return False

    def merge(self, a, b):
        if b is DEAD:
            return a
        if a is DEAD:
            return list(b)
        a = list(a)
        for q in b:
            if len(a) < 64 and not self.contains(a, q):
                a.append(q)
        return a

    def local_sym(self, r):
        if not r:
            return False
        d = self.c.decl_of(r)
        return d is not None and d.ts.space == "local"

    def read(self, s, sym, idx, tok):
        if s is DEAD:
            return
        c = self.c
        for q in s:
            if q[0] == sym and not c.same_text(q[1], idx):
                c.add("warning", "sync.local-race", tok,
                      f"`{sym}` is read here after the write at line {c.toks[q[2]].line} with no barrier in between: "
                      "other work-items may not have written it yet")
                return

    def write(self, s, sym, idx, tok):
        if s is DEAD:
            return s
        q = (sym, idx, tok)
        if len(s) < 64 and not self.contains(s, q):
            s = s + [q]
        return s

    def subscripts(self, e, s):
        for _ in range(64):
            if e is None:
                break
            if e.kind == "Index":
                s = self.expr(e.b, s)
                e = e.a
            elif e.kind == "Name":
                return s
            else:
                return self.expr(e, s)
        return s

    def local_access(self, e):
        if e is None or e.kind != "Index":
            return ""
        r = self.c.root_sym(e)
        return r if self.local_sym(r) else ""

    def expr(self, e, s):
        if e is None:
            return s
        if self.rel is not None and not self.rel.range(e.tb, e.te):
            return s
        c = self.c
        k = e.kind
        if k == "Assign":
            s = self.expr(e.b, s)
            sym = self.local_access(e.a)
            if sym:
                s = self.subscripts(e.a, s)
                if e.op != "=":
                    self.read(s, sym, e.a, e.a.tb)
                s = self.write(s, sym, e.a, e.a.tb)
            else:
                s = self.expr(e.a, s)
            return s
        if k in ("Postfix", "Unary"):
            sym = self.local_access(e.a) if e.op in ("++", "--") else ""
            if sym:
                s = self.subscripts(e.a, s)
                self.read(s, sym, e.a, e.a.tb)
                return self.write(s, sym, e.a, e.a.tb)
            return self.expr(e.a, s)
        if k == "Index":
            sym = self.local_access(e)
            if sym:
                s = self.subscripts(e, s)
                self.read(s, sym, e, e.tb)
                return s
            s = self.expr(e.a, s)
            return self.expr(e.b, s)
        if k == "Call":
            for a in e.items:
                s = self.expr(a, s)
            if c.is_barrier_call(e):
                return s if s is DEAD else []
            if len(e.items) >= 2 and e.a.kind == "Name":
                w, ld, st = vector_width_of_call(e.sym)
                if w:
                    ptr = e.items[-1]
                    r = c.root_sym(ptr)
                    if self.local_sym(r):
                        if ld:
                            self.read(s, r, ptr, ptr.tb)
                        else:
                            s = self.write(s, r, ptr, ptr.tb)
            return s
        if k == "Ternary":
            s = self.expr(e.a, s)
            t = self.expr(e.b, s)
            u = self.expr(e.c, s)
            return self.merge(t, u)
        for ch in children(e):
            s = self.expr(ch, s)
        return s

    def loop(self, cond, step, body, cond_first, s):
        if cond_first:
            s = self.expr(cond, s)
        exit_ = s if cond_first else DEAD
        fr = {"switch": False, "brk": DEAD, "cont": DEAD}
        self.frames.append(fr)
        iters = 2 if self.nest < 3 else 1
        self.nest += 1
        it = s
        for k in range(iters):
            fr["cont"] = DEAD
            it = self.stmt(body, it)
            it = self.merge(it, fr["cont"])
            if it is DEAD:
                break
            it = self.expr(step, it)
            it = self.expr(cond, it)
            exit_ = self.merge(exit_, it)
            # a second iteration from a state no larger than the entry state finds nothing new
            if k == 0 and self.subset(it, s):
                break
        self.nest -= 1
        exit_ = self.merge(exit_, fr["brk"])
        self.frames.pop()
        return exit_

    def subset(self, a, b):
        if a is DEAD:
            return True
        if b is DEAD:
            return False
        return all(self.contains(b, q) for q in a)

    def stmt(self, st, s):
        if st is None:
            return s
        if self.rel is not None and not self.rel.range(st.tok, st.te):
            return s
        k = st.kind
        if k == "Block":
            for t in st.items:
                s = self.stmt(t, s)
        elif k == "Decl":
            for d in st.items:
                s = self.expr(d.init, s)
        elif k == "Expr":
            s = self.expr(st.e0, s)
        elif k in ("Case", "Default"):
            for fr in reversed(self.frames):
                if fr["switch"]:
                    s = self.merge(s, fr["entry"])
                    break
        elif k == "Return":
            s = self.expr(st.e0, s)
            s = DEAD
        elif k == "Break":
            if self.frames:
                self.frames[-1]["brk"] = self.merge(self.frames[-1]["brk"], s)
            s = DEAD
        elif k == "Continue":
            for fr in reversed(self.frames):
                if fr["switch"]:
                    continue
                fr["cont"] = self.merge(fr["cont"], s)
                break
            s = DEAD
        elif k == "If":
            s = self.expr(st.e0, s)
            t = self.stmt(st.s0, s)
            u = self.stmt(st.s1, s)
            s = self.merge(t, u)
        elif k == "For":
            s = self.stmt(st.s0, s)
            s = self.loop(st.e0 if isinstance(st.e0, Expr) else None, st.e1, st.s1, True, s)
        elif k == "While":
            s = self.loop(st.e0, None, st.s0, True, s)
        elif k == "Do":
            s = self.loop(st.e0, None, st.s0, False, s)
        elif k == "Switch":
            s = self.expr(st.e0, s)
            fr = {"switch": True, "brk": DEAD, "cont": DEAD, "entry": s}
            self.frames.append(fr)
            b = self.stmt(st.s0, DEAD)
            b = self.merge(b, fr["brk"])
            b = self.merge(b, fr["entry"])
            self.frames.pop()
            s = b
        return s


def rules_sync(c: Ctx, f: Function):
    local = {name for name, d in c.var.items() if d.ts.space == "local"}
    if c.file_local:
        for st in c.globals:
            for d in st.items:
                if d.ts.space == "local" and d.sym and d.sym not in c.var:
                    local.add(d.sym)
    any_local = bool(local) or c.file_local
    if not c.fn_barrier[f.index] and not any_local:
        return
    sync_rel, race_rel = build_relevance(c, f, local if any_local else None)
    if c.fn_barrier[f.index]:
        w = BarrierWalk(c)
        w.rel = sync_rel
        w.stmt(f.body)
    if any_local:
        r = Race(c)
        r.rel = race_rel
        r.stmt(f.body, [])


# ------------------------------------------------------------------ memory access
U, L, N = 0, 1, 2
CU = (U, False, 0, 0)


def Uc(v):
    return (U, True, v, 0)


def Lc(s):
    return (L, False, 0, s)


CN = (N, False, 0, 0)


def cjoin(a, b):
    if a[0] != b[0]:
        return CN
    if a[0] == U:
        return a if (a[1] and b[1] and a[2] == b[2]) else CU
    if a[0] == L:
        return a if a[3] == b[3] else Lc(0)
    return CN


def cadd(a, b, sub):
    if a[0] == U and b[0] == U:
        if a[1] and b[1]:
            v = a[2] - b[2] if sub else a[2] + b[2]
            if _ok64(v):
                return Uc(v)
        return CU
    if b[0] == U:
        return a
    if a[0] == U:
        return Lc(-b[3] if sub else b[3]) if b[0] == L else b
    if a[0] == L and b[0] == L:
        if a[3] == 0 or b[3] == 0:
            return Lc(0)
        s = a[3] - b[3] if sub else a[3] + b[3]
        return CU if s == 0 else Lc(s)
    return CN


def cmul(a, b):
    if a[0] == U and b[0] == U:
        if a[1] and b[1]:
            v = a[2] * b[2]
            if _ok64(v):
                return Uc(v)
        return CU
    l, u = (a, b) if a[0] == L else (b, a)
    if l[0] == L and u[0] == U:
        if u[1]:
            if u[2] == 0:
                return Uc(0)
            v = l[3] * u[2]
            if l[3] != 0 and _ok64(v):
                return Lc(v)
        return Lc(0)
    return CN


def _cdiv_trunc(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def cdivide(a, b):
    if b[0] != U:
        return CN
    if a[0] == U:
        return Uc(_cdiv_trunc(a[2], b[2])) if (a[1] and b[1] and b[2] != 0) else CU
    if a[0] == L:
        if b[1] and b[2] != 0 and a[3] != 0 and a[3] - _cdiv_trunc(a[3], b[2]) * b[2] == 0:
            return Lc(_cdiv_trunc(a[3], b[2]))
        return CU
    return CN


def cmod(a, b):
    if b[0] != U:
        return CN
    if a[0] == U:
        if a[1] and b[1] and b[2] != 0:
            return Uc(a[2] - _cdiv_trunc(a[2], b[2]) * b[2])
        return CU
    if a[0] == L:
        return a
    return CN


def cbinary(op, a, b):
    if op == "+":
        return cadd(a, b, False)
    if op == "-":
        return cadd(a, b, True)
    if op == "*":
        return cmul(a, b)
    if op == "/":
        return cdivide(a, b)
    if op == "%":
        return cmod(a, b)
    if op == "<<":
        if b[0] == U and b[1] and 0 <= b[2] < 31:
            return cmul(a, Uc(1 << b[2]))
        return CU if (a[0] == U and b[0] == U) else CN
    if op == ">>":
        if b[0] == U and b[1] and 0 <= b[2] < 31:
            return cdivide(a, Uc(1 << b[2]))
        return CU if (a[0] == U and b[0] == U) else CN
    if op == "&":
        if a[0] == L and b[0] == U:
            return a
        if b[0] == L and a[0] == U:
            return b
        return CU if (a[0] == U and b[0] == U) else CN
    return CU if (a[0] == U and b[0] == U) else CN


class Mem:
    def __init__(self, c: Ctx):
        self.c = c

    def global_ptr(self, d, depth=0):
        c = self.c
        if d is None or d.ptr == 0:
            return False
        if c.is_cl:
            return d.ts.space == "global"
        if c.is_cuda:
            if d.ts.space:
                return False
            if d.is_param:
                return True
            if d.init is None or depth > 4:
                return False
            r = c.root_sym(d.init)
            return bool(r) and self.global_ptr(c.decl_of(r), depth + 1)
        return False

    def name_cls(self, sym):
        c = self.c
        if sym in c.cls:
            return c.cls[sym]
        v = c.cenv.get(sym)
        if v is not None:
            return Uc(v)
        return CU

    def id_call(self, x):
        dim = self.c.cint(x.items[0]) if x.items else None
        if dim is None:
            dim = -1
        if x.sym in ("get_global_id", "get_local_id"):
            return Lc(1) if dim == 0 else CU if dim > 0 else CN
        if x.sym in ("get_local_linear_id", "get_global_linear_id", "get_sub_group_local_id"):
            return Lc(1)
        return CU

    def count(self, k, width, arr, tok, access):
        c = self.c
        m = c.rep["memory"]
        if k[0] == U:
            m["uniform"] += 1
            return
        if k[0] == L:
            s = abs(k[3])
            if s == 1 or (width > 1 and s == width):
                m["unit_stride"] += 1
                return
            m["strided"] += 1
            fl = c.flags.get(arr, 0)
            if not fl & 1:
                c.flags[arr] = fl | 1
                st = f"{s} elements" if s else "a runtime value"
                c.add("info", "mem.strided-access", tok,
                      f"`{c.expr_text(access)}` is strided along the fastest work-item id (stride {st}): neighbouring "
                      "work-items touch distant addresses")
            return
        m["irregular"] += 1
        fl = c.flags.get(arr, 0)
        if not fl & 2:
            c.flags[arr] = fl | 2
            c.add("info", "mem.irregular-access", tok,
                  f"`{c.expr_text(access)}` has an index that is not affine in the fastest work-item id "
                  "(gather/scatter)")

    def access(self, e, store, k):
        c = self.c
        r = c.root_sym(e)
        if not r:
            return
        d = c.decl_of(r)
        if not self.global_ptr(d):
            return
        if vector_lanes(d.ts.word) > 1:
            c.rep["memory"]["vector_stores" if store else "vector_loads"] += 1
        self.count(k, 1, r, e.tb, e)

    def scan(self, e):
        """One walk: visits every access (counting them) and returns the expression's class."""
        if e is None:
            return CU
        c = self.c
        k = e.kind
        if k == "Num":
            v = parse_int_literal(c.toks[e.tok].text)
            return Uc(v) if v is not None else CU
        if k == "Name":
            if c.is_cuda and e.sym == "threadIdx":
                return CN
            return self.name_cls(e.sym)
        if k == "Member":
            base = e.a
            if base.kind == "Name" and base.sym == "threadIdx":
                return Lc(1) if e.sym == "x" else CU
            if base.kind == "Name" and base.sym in ("blockIdx", "blockDim", "gridDim"):
                return CU
            return self.scan(e.a)
        if k == "Assign":
            rhs = self.scan(e.b)
            l = e.a
            if l.kind == "Index":
                kk = self.scan(l.b)
                self.access(l, True, kk)
                if e.op != "=":
                    self.access(l, False, kk)
                if l.a.kind != "Name":
                    self.scan(l.a)
            elif l.kind == "Name":
                old = self.name_cls(l.sym)
                op = e.op
                if op == "=":
                    nv = rhs
                elif op == "+=":
                    nv = cadd(old, rhs, False)
                elif op == "-=":
                    nv = cadd(old, rhs, True)
                elif op == "*=":
                    nv = cmul(old, rhs)
                elif op == "/=":
                    nv = cdivide(old, rhs)
                elif op == "%=":
                    nv = cmod(old, rhs)
                else:
                    nv = CU if (old[0] == U and rhs[0] == U) else CN
                c.cls[l.sym] = cjoin(old, nv) if l.sym in c.cls else nv
            else:
                self.scan(e.a)
            return rhs
        if k == "Index":
            kk = self.scan(e.b)
            self.access(e, False, kk)
            base = self.scan(e.a) if e.a.kind != "Name" else self.name_cls(e.a.sym)
            return CU if (kk[0] == U and base[0] == U) else CN
        if k == "Call":
            args = [self.scan(x) for x in e.items]
            named = e.a.kind == "Name"
            if not named:
                self.scan(e.a)
            if c.is_cl and named and c.varying_source(e) and e.sym not in c.fn_of:
                out = self.id_call(e)
            elif e.sym in ("mad", "mad24", "fma") and len(args) == 3:
                out = cadd(cmul(args[0], args[1]), args[2], False)
            elif e.sym == "mul24" and len(args) == 2:
                out = cmul(args[0], args[1])
            elif c.varying_source(e):
                out = CN
            else:
                out = CU if all(a[0] == U for a in args) else CN
            if named:
                name = e.sym
                w, ld, st = vector_width_of_call(name)
                if w and len(e.items) >= (2 if ld else 3):
                    io, ip = (0, 1) if ld else (1, 2)
                    ptr = e.items[ip]
                    r = c.root_sym(ptr)
                    d = c.decl_of(r) if r else None
                    if self.global_ptr(d):
                        if w > 1:
                            c.rep["memory"]["vector_loads" if ld else "vector_stores"] += 1
                        kk = cadd(cmul(args[io], Uc(w)), args[ip], False)
                        self.count(kk, w, r, e.tb, e)
                elif is_atomic_name(name):
                    c.rep["memory"]["atomics"] += 1
                    where = ""
                    if e.items:
                        r = c.root_sym(e.items[0])
                        d = c.decl_of(r) if r else None
                        if d is not None and d.ts.space == "local":
                            where = " on local memory"
                        elif d is not None:
                            where = f" on `{r}`"
                    c.add("info", "mem.atomic", e.tb, f"`{name}`{where}: conflicting work-items are serialised")
            return out
        if k == "Cast":
            if (e.flags & F_PTR) and e.word in VECTORS:
                c.rep["memory"]["vector_casts"] += 1
                c.add("info", "mem.vector-cast", e.tb,
                      f"pointer cast to `{e.word}*`: the address must be {elem_bytes_of(e.word)}-byte aligned")
            return self.scan(e.a)
        if k == "Ternary":
            self.scan(e.a)
            b = self.scan(e.b)
            return cjoin(b, self.scan(e.c))
        if k == "Unary":
            a = self.scan(e.a)
            if e.op == "-":
                if a[0] == L:
                    return Lc(-a[3])
                if a[0] == U:
                    return Uc(-a[2]) if a[1] else CU
                return CN
            if e.op == "+":
                return a
            return CU if a[0] == U else CN
        if k == "Comma":
            last = CU
            for x in e.items:
                last = self.scan(x)
            return last
        if k == "Binary":
            a = self.scan(e.a)
            b = self.scan(e.b)
            return cbinary(e.op, a, b)
        for ch in children(e):
            self.scan(ch)
        return CU

    def stmt(self, s):
        if s is None:
            return
        c = self.c
        k = s.kind
        if k == "Block":
            for t in s.items:
                self.stmt(t)
        elif k == "Decl":
            for d in s.items:
                if d.init is None:
                    continue
                kk = self.scan(d.init)
                if d.sym and not d.is_array():
                    c.cls[d.sym] = kk
        elif k == "For":
            self.stmt(s.s0)
            self.scan(s.e0 if isinstance(s.e0, Expr) else None)
            self.stmt(s.s1)
            self.scan(s.e1)
        else:
            self.scan(s.e0 if isinstance(s.e0, Expr) else None)
            self.scan(s.e1)
            self.stmt(s.s0)
            self.stmt(s.s1)


def rules_memory(c: Ctx, f: Function):
    Mem(c).stmt(f.body)


# ------------------------------------------------------------------ safety
def tt_header_allowed(p: str) -> bool:
    if ".." in p or not p or p[0] == "/":
        return False
    if not re.fullmatch(r"[A-Za-z0-9_/.]+", p):
        return False
    return p in ("dataflow_api.h", "cstdint", "stdint.h", "cstddef", "stddef.h", "compute_kernel_api.h",
                 "debug/dprint.h") or p.startswith(("compute_kernel_api/", "api/compute/", "api/dataflow/"))


def has_exit(c, s, loop_depth, depth=0):
    if s is None or depth > MAX_NEST:
        return False
    k = s.kind
    if k in ("Return", "Goto"):
        return True
    if k == "Break":
        return loop_depth == 0
    if k == "Block":
        return any(has_exit(c, t, loop_depth, depth + 1) for t in s.items)
    if k == "If":
        return has_exit(c, s.s0, loop_depth, depth + 1) or has_exit(c, s.s1, loop_depth, depth + 1)
    if k == "For":
        return has_exit(c, s.s1, loop_depth + 1, depth + 1)
    if k in ("While", "Do", "Switch"):
        return has_exit(c, s.s0, loop_depth + 1, depth + 1)
    return False


def is_ptr_expr(c, e, depth=0):
    if e is None or depth > 32:
        return False
    k = e.kind
    if k == "Name":
        d = c.decl_of(e.sym)
        return d is not None and (d.ptr > 0 or (d.is_array() and len(d.dims) <= 1))
    if k == "Unary":
        return e.op == "&"
    if k == "Cast":
        return bool(e.flags & F_PTR)
    if k == "Binary":
        if e.op == "+":
            return is_ptr_expr(c, e.a, depth + 1) != is_ptr_expr(c, e.b, depth + 1)
        if e.op == "-":
            return is_ptr_expr(c, e.a, depth + 1) and not is_ptr_expr(c, e.b, depth + 1)
        return False
    if k == "Comma":
        return len(e.items) == 1 and is_ptr_expr(c, e.items[0], depth + 1)
    return False


def integer_cast(e):
    if e.flags & F_PTR:
        return False
    if e.word:
        return e.word in INTEGER_TYPES
    return len(e.sym) > 2 and e.sym.endswith("_t")


def rules_safety_fn(c: Ctx, f: Function):
    for st in f.loops:
        cond = st.e0
        body = st.s1 if st.kind == "For" else st.s0
        v = c.cint(cond) if isinstance(cond, Expr) else None
        forever = (st.kind == "For" and cond is None) or (v is not None and v != 0)
        if forever and not has_exit(c, body, 0):
            c.add("error", "safety.unbounded-loop", st.tok,
                  f"`{c.text(st.tok)}` loop with a constant-true condition and no break or return: it never ends")
    for x in f.calls:
        if x.sym != "printf" or x.a.kind != "Name":
            continue
        in_loop = any(st.tok < x.tb < st.te for st in f.loops)
        if in_loop:
            c.add("error", "safety.printf-flood", x.tb, "printf inside a loop: every work-item prints on every iteration")
        else:
            c.add("warning", "safety.printf", x.tb, "printf left in the kernel (debug output)")
    bad = [x for x in f.casts if integer_cast(x) and is_ptr_expr(c, x.a)]
    if not bad:
        return
    aligned = set()  # casts that only feed an alignment test: ((uintptr_t)p | (uintptr_t)q) & 15

    def operand(e, depth=0):
        if e is None or depth > 64:
            return
        if e.kind == "Cast":
            aligned.add(id(e))
        elif e.kind == "Binary" and e.op in ("|", "^", "+", "-"):
            operand(e.a, depth + 1)
            operand(e.b, depth + 1)
        elif e.kind == "Comma" and len(e.items) == 1:
            operand(e.items[0], depth + 1)

    for st in walk_stmts(f.body):
        for e in stmt_exprs(st):
            for x in walk_expr(e):
                if x.kind == "Binary" and x.op in ("&", "%"):
                    if c.cint(x.b) is not None:
                        operand(x.a)
                    elif x.op == "&" and c.cint(x.a) is not None:
                        operand(x.b)
    for x in bad:
        if id(x) in aligned:
            continue
        c.add("error", "safety.pointer-to-int", x.tb,
              f"cast of the pointer `{c.expr_text(x.a)}` to the integer type `{c.tokens_text(x.t0, x.t1)}`")


def rules_safety_file(c: Ctx):
    lx = c.lx
    pp = lx.pp
    for line, col, off, b, e in lx.dirs:
        if e <= b:
            continue
        k = pp[b]
        name = k.text
        if k.kind != ID:
            continue
        if name == "include":
            path = ""
            if b + 1 < e:
                p = pp[b + 1]
                if p.kind == STR and len(p.text) >= 2:
                    path = p.text[1:-1]
                elif p.kind == PUN and p.text == "<":
                    last = pp[e - 1]
                    if last.kind == PUN and last.text == ">" and e - 1 > b + 2:
                        path = c.src[pp[b + 2].off:last.off]
            if not (c.is_tt and tt_header_allowed(path)):
                c.add_lc("error", "safety.include", line, col,
                         "#include is not allowed in kernel sources" if not path
                         else f'#include "{path}" is not allowed in kernel sources', None)
        elif name in ("include_next", "import", "embed"):
            c.add_lc("error", "safety.preprocessor-path", line, col,
                     f"#{name} reads files: not allowed in kernel sources", None)
        elif name == "line":
            if any(pp[i].kind == STR for i in range(b + 1, e)):
                c.add_lc("error", "safety.preprocessor-path", line, col,
                         "#line with a file name is not allowed in kernel sources", None)
        elif name == "pragma":
            for i in range(b + 1, e):
                w = pp[i].text
                if w in ("dependency", "include_alias", "push_macro_path"):
                    c.add_lc("error", "safety.preprocessor-path", line, col,
                             f"#pragma {w} reads files: not allowed in kernel sources", None)
                    break
        for i in range(b, e):
            t = pp[i]
            if t.kind != ID:
                continue
            if t.text in ("__has_include", "__has_include_next", "__has_embed"):
                c.add_lc("error", "safety.preprocessor-path", t.line, t.col,
                         f"{t.text} probes files: not allowed in kernel sources", None)
            elif t.text in ("asm", "__asm", "__asm__"):
                c.add_lc("error", "safety.asm", t.line, t.col, "inline assembly is not allowed (in a macro)", None)
            elif t.text == "goto":
                c.add_lc("error", "safety.goto", t.line, t.col, "goto is not allowed (in a macro)", None)
    printfs = 0
    first_printf = 0
    toks = lx.toks
    for i in lx.marks:
        t = toks[i]
        w = t.text
        if w in ("asm", "__asm", "__asm__"):
            c.add("error", "safety.asm", i, "inline assembly is not allowed", None)
        elif w == "goto":
            c.add("error", "safety.goto", i, "goto is not allowed in kernels", None)
        elif w in ("__has_include", "__has_include_next", "__has_embed"):
            c.add("error", "safety.preprocessor-path", i, f"{w} probes files: not allowed in kernel sources", None)
        elif w == "printf":
            if toks[i + 1].kind == PUN and toks[i + 1].text == "(":
                if printfs == 0:
                    first_printf = i
                printfs += 1
    if printfs > 4:
        c.add("error", "safety.printf-flood", first_printf,
              f"{printfs} printf calls: output from every work-item floods the host", None)
    color = {}
    for root in c.funcs:
        if color.get(root.index):
            continue
        stack = [(root, 0)]
        color[root.index] = 1
        while stack:
            f, i = stack[-1]
            edges = c.calls[f.index]
            if i < len(edges):
                stack[-1] = (f, i + 1)
                g, call = edges[i]
                col = color.get(g.index, 0)
                if col == 1:
                    msg = (f"`{f.sym}` calls itself: recursion is not allowed in kernels" if f is g else
                           f"`{f.sym}` calls `{g.sym}`, which calls back into `{f.sym}`: recursion is not allowed "
                           "in kernels")
                    c.add("error", "safety.recursion", call.tb, msg, f)
                elif col == 0:
                    color[g.index] = 1
                    stack.append((g, 0))
            else:
                color[f.index] = 2
                stack.pop()


# ------------------------------------------------------------------ TT-Metal
def tt_event(c, x):
    if x.kind != "Call" or x.a.kind != "Name":
        return ""
    n = x.sym
    simple = {"cb_reserve_back": "RESERVE", "cb_push_back": "PUSH", "cb_wait_front": "WAIT", "cb_pop_front": "POP",
              "noc_async_read_barrier": "READ_BAR", "noc_async_write_barrier": "WRITE_BAR",
              "noc_async_writes_flushed": "WRITE_BAR", "noc_async_full_barrier": "FULL_BAR",
              "tile_regs_acquire": "ACQ", "tile_regs_commit": "COMMIT", "tile_regs_wait": "TWAIT",
              "tile_regs_release": "RELEASE", "acquire_dst": "ACQ_DST", "release_dst": "REL_DST"}
    if n in simple:
        return simple[n]
    if n.startswith("noc_async_read"):
        return "READ" if "barrier" not in n else "READ_BAR"
    if n.startswith("noc_async_write"):
        return "WRITE" if "barrier" not in n else "WRITE_BAR"
    if n.startswith("pack_tile"):
        return "PACK"
    if "_tile" in n and "_init" not in n and not n.startswith(("noc_", "cb_", "get_", "pack_", "tile_regs",
                                                               "unpack_", "mm_")):
        return "MATH"
    return ""


def _digits_after(n, prefix):
    if not n.startswith(prefix) or len(n) == len(prefix):
        return -1
    rest = n[len(prefix):]
    if not rest.isdigit() or not rest.isascii():
        return -1
    v = int(rest)
    return v if v <= 1000 else -1


def cb_key(c, e, depth=0):
    if e is None:
        return "?"
    v = c.cint(e)
    if v is not None:
        return f"cb{v}"
    if e.kind == "Cast":
        return cb_key(c, e.a, depth + 1)
    if e.kind == "Name":
        n = e.sym
        for pre, base in (("c_in", 0), ("c_out", 16), ("c_intermed", 24), ("c_", 0)):
            k = _digits_after(n, pre)
            if k >= 0:
                return f"cb{base + k}"
        d = c.decl_of(n)
        if d is not None and d.init is not None and not d.is_param and depth < 4:
            return cb_key(c, d.init, depth + 1)
        return n
    return c.expr_text(e)


class Pairing:
    def __init__(self, c, r, tile_bytes):
        self.c, self.r, self.tile_bytes = c, r, tile_bytes

    def ent(self, v, key, shown):
        for e in v:
            if e["key"] == key:
                return e
        e = {"key": key, "shown": shown, "res": 0, "wait": 0, "res_sym": False, "wait_sym": False, "res_tok": 0,
             "wait_tok": 0}
        v.append(e)
        return e

    def note_tiles(self, key, shown, n):
        if n == 0:
            return
        if n is None or n < 0:
            n = -1
        for cb in self.r["cbs"]:
            if cb["cb"] == shown or cb["cb"] == key:
                if n > (cb["tiles"] if cb["tiles"] is not None else -1):
                    cb["tiles"] = n
                    cb["bytes"] = sat_mul(n, self.tile_bytes)
                return
        self.r["cbs"].append({"cb": shown, "tiles": None if n < 0 else n,
                              "bytes": sat_mul(n, self.tile_bytes) if n > 0 else None})

    def event(self, v, x, ev):
        c = self.c
        if not x.items:
            return
        arg = x.items[0]
        key = cb_key(c, arg)
        shown = c.expr_text(arg, 40)
        e = self.ent(v, key, shown)
        n = c.cint(x.items[1]) if len(x.items) >= 2 else None
        nn = n if n is not None else -1
        t = x.a.tok
        name = f"{c.text(t)}({shown})"
        if ev == "RESERVE":
            self.note_tiles(key, shown, nn)
            if nn < 0:
                e["res_sym"] = True
            else:
                e["res"] = sat_add(e["res"], nn)
            e["res_tok"] = t
        elif ev == "PUSH":
            if e["res"] == 0 and not e["res_sym"]:
                c.add("error", "tt.cb-reserve-push", t,
                      f"{name} without a matching cb_reserve_back earlier in the same block")
            elif nn >= 0 and not e["res_sym"]:
                if nn > e["res"]:
                    c.add("error", "tt.cb-reserve-push", t,
                          f"{name} pushes {nn} tile(s) but only {e['res']} were reserved (line "
                          f"{c.toks[e['res_tok']].line})")
                    e["res"] = 0
                else:
                    e["res"] -= nn
            else:
                e["res"] = 0
                e["res_sym"] = False
        elif ev == "WAIT":
            self.note_tiles(key, shown, nn)
            if nn < 0:
                e["wait_sym"] = True
            else:
                e["wait"] = max(e["wait"], nn)
            e["wait_tok"] = t
        elif ev == "POP":
            if e["wait"] == 0 and not e["wait_sym"]:
                c.add("error", "tt.cb-wait-pop", t,
                      f"{name} without a matching cb_wait_front earlier in the same block: it releases tiles that "
                      "were never received")
            elif nn >= 0 and not e["wait_sym"]:
                if nn > e["wait"]:
                    c.add("error", "tt.cb-wait-pop", t,
                          f"{name} pops {nn} tile(s) but waited for {e['wait']} (line {c.toks[e['wait_tok']].line})")
                    e["wait"] = 0
                else:
                    e["wait"] -= nn
            else:
                e["wait"] = 0
                e["wait_sym"] = False

    def exprs(self, v, e):
        for x in walk_expr(e):
            ev = tt_event(self.c, x)
            if ev in ("RESERVE", "PUSH", "WAIT", "POP"):
                self.event(v, x, ev)

    def stmts(self, v, s):
        if s is None:
            return
        k = s.kind
        if k == "Block":
            for t in s.items:
                self.stmts(v, t)
        elif k == "Decl":
            for d in s.items:
                self.exprs(v, d.init)
        elif k == "If":
            self.exprs(v, s.e0)
            self.region(s.s0, False)
            self.region(s.s1, False)
        elif k == "For":
            self.stmts(v, s.s0)
            self.exprs(v, s.e0 if isinstance(s.e0, Expr) else None)
            self.region(s.s1, True, s.e1)
        elif k in ("While", "Do"):
            self.exprs(v, s.e0)
            self.region(s.s0, True)
        elif k == "Switch":
            self.exprs(v, s.e0)
            self.region(s.s0, False)
        else:
            self.exprs(v, s.e0 if isinstance(s.e0, Expr) else None)

    def region(self, s, loop_body, step=None):
        if s is None:
            return
        c = self.c
        v: List[dict] = []
        self.stmts(v, s)
        self.exprs(v, step)
        for e in v:
            if e["res"] > 0 or e["res_sym"]:
                c.add("error", "tt.cb-reserve-push", e["res_tok"],
                      f"cb_reserve_back({e['shown']}) is never followed by cb_push_back in the same block: the "
                      "consumer waits forever")
            if loop_body and (e["wait"] > 0 or e["wait_sym"]):
                c.add("error", "tt.cb-wait-pop", e["wait_tok"],
                      f"cb_wait_front({e['shown']}) in a loop is never followed by cb_pop_front in the same block: the "
                      "producer stalls and later iterations see the same tiles")


T_IDLE, T_ACQ, T_COMMIT, T_WAIT, T_LEGACY, T_UNKNOWN = range(6)
_TREG_NAME = ["released", "acquired", "committed", "waited", "acquired (acquire_dst)", "unknown"]


class TState:
    __slots__ = ("rd", "wr", "rd_tok", "wr_tok", "treg", "treg_tok")

    def __init__(self):
        self.rd = self.wr = False
        self.rd_tok = self.wr_tok = 0
        self.treg = T_IDLE
        self.treg_tok = 0

    def copy(self):
        t = TState()
        t.rd, t.wr, t.rd_tok, t.wr_tok, t.treg, t.treg_tok = (self.rd, self.wr, self.rd_tok, self.wr_tok, self.treg,
                                                             self.treg_tok)
        return t


def tmerge(a, b):
    if b is DEAD:
        return a
    if a is DEAD:
        return b.copy()
    a = a.copy()
    if b.rd and not a.rd:
        a.rd, a.rd_tok = True, b.rd_tok
    if b.wr and not a.wr:
        a.wr, a.wr_tok = True, b.wr_tok
    if a.treg != b.treg:
        a.treg = T_UNKNOWN
    return a


class Flow:
    def __init__(self, c, check_regs, is_main):
        self.c, self.check_regs, self.is_main = c, check_regs, is_main
        self.frames: List[dict] = []
        self.nest = 0

    def regs_error(self, t, what, s):
        c = self.c
        since = f" (since line {c.toks[s.treg_tok].line})" if s.treg_tok else ""
        c.add("error", "tt.tile-regs-order", t,
              f"{what}; the tile registers are {_TREG_NAME[s.treg]}{since}: the protocol is tile_regs_acquire -> "
              "math -> tile_regs_commit -> tile_regs_wait -> pack_tile -> tile_regs_release")

    def event(self, x, ev, s):
        if s is DEAD:
            return
        c = self.c
        t = x.a.tok
        name = c.text(t)
        if ev == "READ":
            s.rd, s.rd_tok = True, t
        elif ev == "WRITE":
            s.wr, s.wr_tok = True, t
        elif ev == "READ_BAR":
            s.rd = False
        elif ev == "WRITE_BAR":
            s.wr = False
        elif ev == "FULL_BAR":
            s.rd = s.wr = False
        elif ev == "PUSH":
            if s.rd:
                c.add("error", "tt.noc-read-barrier", t,
                      f"{name} while the {c.text(s.rd_tok)} at line {c.toks[s.rd_tok].line} may still be in flight: "
                      "call noc_async_read_barrier() before pushing the tiles")
        elif ev == "POP":
            if s.wr:
                c.add("error", "tt.noc-write-barrier", t,
                      f"{name} while the {c.text(s.wr_tok)} at line {c.toks[s.wr_tok].line} may still be reading the "
                      "tiles: call noc_async_write_barrier() before popping them")
        if not self.check_regs:
            return

        def setr(v):
            s.treg, s.treg_tok = v, t

        unk = s.treg == T_UNKNOWN
        rules = {"ACQ": (T_IDLE, T_ACQ, "() while the registers are still held"),
                 "COMMIT": (T_ACQ, T_COMMIT, "() without a preceding tile_regs_acquire()"),
                 "TWAIT": (T_COMMIT, T_WAIT, "() without a preceding tile_regs_commit()"),
                 "RELEASE": (T_WAIT, T_IDLE, "() without a preceding tile_regs_wait()"),
                 "ACQ_DST": (T_IDLE, T_LEGACY, "() while the registers are still held"),
                 "REL_DST": (T_LEGACY, T_IDLE, "() without a preceding acquire_dst()")}
        if ev in rules:
            need, to, msg = rules[ev]
            if s.treg != need and not unk:
                self.regs_error(t, name + msg, s)
                setr(T_UNKNOWN)
            else:
                setr(to)
        elif ev == "MATH":
            if s.treg not in (T_ACQ, T_LEGACY) and not unk:
                self.regs_error(t, name + " writes the destination registers outside acquire/commit", s)
        elif ev == "PACK":
            if s.treg not in (T_WAIT, T_LEGACY) and not unk:
                self.regs_error(t, name + " reads the destination registers before tile_regs_wait()", s)
                setr(T_UNKNOWN)

    def expr(self, e, s):
        if s is DEAD:
            return s
        for x in walk_expr(e):
            if x.kind == "Call":
                ev = tt_event(self.c, x)
                if ev:
                    self.event(x, ev, s)
        return s

    def end(self, s, t):
        if s is DEAD or not self.is_main:
            return
        c = self.c
        if s.wr:
            c.add("error", "tt.noc-write-barrier", s.wr_tok,
                  f"the {c.text(s.wr_tok)} is still in flight when the kernel returns: call noc_async_write_barrier()")
        if s.rd:
            c.add("error", "tt.noc-read-barrier", s.rd_tok,
                  f"the {c.text(s.rd_tok)} is never waited for: call noc_async_read_barrier() before using the data")
        if self.check_regs and s.treg not in (T_IDLE, T_UNKNOWN):
            self.regs_error(t, "the kernel returns with the tile registers still held", s)

    def loop(self, cond, step, body, cond_first, s):
        if cond_first:
            s = self.expr(cond, s)
        exit_ = s.copy() if (cond_first and s is not DEAD) else DEAD
        fr = {"switch": False, "brk": DEAD, "cont": DEAD}
        self.frames.append(fr)
        iters = 2 if self.nest < 3 else 1
        self.nest += 1
        it = s.copy() if s is not DEAD else DEAD
        for _ in range(iters):
            fr["cont"] = DEAD
            it = self.stmt(body, it)
            it = tmerge(it, fr["cont"])
            if it is DEAD:
                break
            it = self.expr(step, it)
            it = self.expr(cond, it)
            exit_ = tmerge(exit_, it)
        self.nest -= 1
        exit_ = tmerge(exit_, fr["brk"])
        self.frames.pop()
        return exit_

    def stmt(self, st, s):
        if st is None:
            return s
        k = st.kind
        if k == "Block":
            for t in st.items:
                s = self.stmt(t, s)
        elif k == "Decl":
            for d in st.items:
                s = self.expr(d.init, s)
        elif k == "Expr":
            s = self.expr(st.e0, s)
        elif k in ("Case", "Default"):
            for fr in reversed(self.frames):
                if fr["switch"]:
                    s = tmerge(s, fr["entry"])
                    break
        elif k == "Return":
            s = self.expr(st.e0, s)
            self.end(s, st.tok)
            s = DEAD
        elif k == "Break":
            if self.frames:
                self.frames[-1]["brk"] = tmerge(self.frames[-1]["brk"], s)
            s = DEAD
        elif k == "Continue":
            for fr in reversed(self.frames):
                if fr["switch"]:
                    continue
                fr["cont"] = tmerge(fr["cont"], s)
                break
            s = DEAD
        elif k == "If":
            s = self.expr(st.e0, s)
            t = self.stmt(st.s0, s.copy() if s is not DEAD else DEAD)
            u = self.stmt(st.s1, s.copy() if s is not DEAD else DEAD)
            s = tmerge(t, u)
        elif k == "For":
            s = self.stmt(st.s0, s)
            s = self.loop(st.e0 if isinstance(st.e0, Expr) else None, st.e1, st.s1, True, s)
        elif k == "While":
            s = self.loop(st.e0, None, st.s0, True, s)
        elif k == "Do":
            s = self.loop(st.e0, None, st.s0, False, s)
        elif k == "Switch":
            s = self.expr(st.e0, s)
            fr = {"switch": True, "brk": DEAD, "cont": DEAD, "entry": s.copy() if s is not DEAD else DEAD}
            self.frames.append(fr)
            b = self.stmt(st.s0, DEAD)
            b = tmerge(b, fr["brk"])
            b = tmerge(b, fr["entry"])
            self.frames.pop()
            s = b
        return s


def rules_ttmetal(c: Ctx, f: Function):
    r = c.res[f.index]
    regs_calls = any_tile = False
    rt = ct = -1
    for s in walk_stmts(f.body):
        for e in stmt_exprs(s):
            for x in walk_expr(e):
                if x.kind != "Call":
                    continue
                ev = tt_event(c, x)
                if ev in ("ACQ", "COMMIT", "TWAIT", "RELEASE", "ACQ_DST", "REL_DST"):
                    regs_calls = True
                if ev in ("MATH", "PACK"):
                    any_tile = True
                if x.sym in ("get_arg_val", "get_compile_time_arg_val") and x.items:
                    v = c.cint(x.items[0])
                    if v is not None and 0 <= v < 100000:
                        if x.sym == "get_arg_val":
                            rt = max(rt, v)
                        else:
                            ct = max(ct, v)
    r["rt"] = rt + 1
    r["ct"] = ct + 1
    Pairing(c, r, c.exp.get("tile_bytes") or 2048).region(f.body, False)
    w = Flow(c, regs_calls or (f.is_tt_main and any_tile), f.is_tt_main)
    s = w.stmt(f.body, TState())
    w.end(s, f.body_close)


# ------------------------------------------------------------------ ABI
_DTYPE_WORD = {"f32": "float", "f64": "double", "f16": "half", "i32": "int", "i64": "long", "u32": "uint"}


def want_of(c, a):
    k = a.get("kind", "")
    if k in ("input", "output", "temp"):
        ptr = True
    elif k in ("scalar", "size"):
        ptr = False
    else:
        ptr = "*" in a.get("c_type", "")
    output = k in ("output", "temp")
    d = a.get("dtype", "")
    base = _DTYPE_WORD.get(d, "")
    f16 = d == "f16"
    if k == "size":
        base = "int"
    ct = a.get("c_type", "")
    if not base and ct:
        for w in re.findall(r"[A-Za-z0-9_]+", ct):
            if w in BUILTIN_TYPES or w in ("unsigned", "signed"):
                base = "uint" if w == "unsigned" else w
    return {"ptr": ptr, "base": base, "f16": f16, "output": output}


def shown_of(c, a, w):
    """How a message shows the expected type (built only for messages)."""
    ct = a.get("c_type", "")
    if ct:
        return ct
    t = w["base"] or "?"
    if w["ptr"]:
        t = ("__global " if c.is_cl else "") + ("" if w["output"] else "const ") + t + "*"
    return t


def base_ok(c, w, p):
    if not w["base"]:
        return True
    b = p.ts.word
    if b == w["base"]:
        return True
    if w["f16"]:
        if b in ("__half", "half"):
            return True
        if w["ptr"] and b in ("ushort", "short", "uint16_t"):
            return True
        if not w["ptr"] and b == "float":
            return True
    if w["base"] == "int" and b == "int32_t" and not c.is_cl:
        return True
    return False


def check_args(c, k, want):
    order_reported = False
    names = [a.get("name", "") for a in want]
    for i, p in enumerate(k.params[:len(want)]):
        e = want[i]
        at = p.name_tok if p.name_tok else p.tb
        pname = p.sym or "(unnamed)"

        def where():
            kind = e.get("kind") or "argument"
            return f"kernel `{k.sym}` argument {i} (`{pname}`, for {kind} `{e.get('name', '')}`)"

        ename = e.get("name", "")
        if ename and p.sym and pname != ename:
            if pname in names:
                j = names.index(pname)
                if not order_reported:
                    c.add("error", "abi.arg-order", at,
                          f"kernel `{k.sym}` takes `{pname}` as argument {i} but the ABI passes it as argument {j} "
                          f"(expected order: {', '.join(names)})", k)
                    order_reported = True
                continue
            c.add("warning", "abi.arg-name", at,
                  f"kernel `{k.sym}` argument {i} is named `{pname}`; the ABI calls it `{ename}`", k)
        w = want_of(c, e)
        is_ptr = p.ptr > 0 or p.is_array()
        if w["ptr"] != is_ptr:
            c.add("error", "abi.arg-type", at,
                  f"{where()} is `{type_text(c, p)}`; the ABI expects "
                  f"{'a pointer `' if w['ptr'] else 'a value `'}{shown_of(c, e, w)}`", k)
            continue
        if w["ptr"]:
            if c.is_cl and p.ts.space != "global":
                sp = {"local": "__local", "constant": "__constant", "private": "__private"}.get(
                    p.ts.space, "no address space (private)")
                c.add("error", "abi.address-space", at,
                      f"{where()} is `{type_text(c, p)}` ({sp}); the ABI passes a `__global` buffer: "
                      f"`{shown_of(c, e, w)}`", k)
                continue
            if p.ptr > 1:
                c.add("error", "abi.arg-type", at,
                      f"{where()} is `{type_text(c, p)}`; the ABI expects `{shown_of(c, e, w)}`", k)
                continue
            if p.ts.word in VECTORS:
                c.add("error", "abi.arg-type", at,
                      f"{where()} is `{type_text(c, p)}`; the ABI expects a scalar element type: "
                      f"`{shown_of(c, e, w)}`", k)
                continue
            if w["output"] and p.ts.is_const:
                c.add("error", "abi.arg-type", at,
                      f"{where()} is `{type_text(c, p)}`: the kernel writes {e.get('kind', '')}s, so it cannot be "
                      "const", k)
                continue
        if not base_ok(c, w, p):
            c.add("error", "abi.arg-type", at,
                  f"{where()} is `{type_text(c, p)}`; the ABI expects `{shown_of(c, e, w)}`", k)


def rules_abi(c: Ctx):
    kernels_out = c.rep["abi"]["kernels"]
    for k in c.kernels:
        info = {"name": k.sym, "line": c.toks[k.name_tok].line, "col": c.toks[k.name_tok].col, "entry": k is c.entry,
                "nargs": len(k.params), "args": [], "local_mem_bytes": 0, "local_mem_unknown": False,
                "dynamic_shared": False, "private_bytes": 0, "registers": 0, "barriers": 0,
                "reqd_work_group_size": None, "launch_bounds": None, "launch": None}
        if k is c.entry:
            for p in k.params:
                info["args"].append({"name": p.sym, "type": type_text(c, p), "space": p.ts.space,
                                     "pointer": p.ptr + (1 if p.is_array() else 0), "const": p.ts.is_const})
        kernels_out.append(info)
    if c.entry is not None:
        c.rep["abi"]["entry"] = c.entry.sym
    if not c.kernels:
        if c.is_tt:
            msg = "no TT-Metal kernel entry: expected `void kernel_main()` (data movement) or `void MAIN` (compute)"
        else:
            msg = "no `__kernel` function found" if c.is_cl else "no `__global__` function found"
            other = any(t.kind == ID and ((c.is_cl and t.text == "__global__") or
                                          (c.is_cuda and t.text in ("__kernel", "kernel")) or t.text == "kernel_main")
                        for t in c.toks)
            if other:
                msg += " (the source looks written for another target: check --target)"
        c.add_lc("error", "abi.no-kernel", 1, 1, msg, None)
        return
    exp = c.exp
    if c.is_tt:
        want = exp.get("arg_count")  # a KernelSpec's ABI is not a TT-Metal kernel's runtime arguments
        got = c.res[c.entry.index]["rt"]
        if want is not None and want >= 0 and got != want:
            c.add("error", "abi.arg-count", c.entry.name_tok,
                  f"the kernel reads {got} runtime argument(s) with get_arg_val; expected {want}", c.entry)
        return
    name = exp.get("name") or ""
    if name:
        if not any(k.sym == name for k in c.kernels):
            k = c.kernels[-1]
            c.add("error", "abi.kernel-name", k.name_tok,
                  f"no kernel named `{name}` (found: {', '.join(k.sym for k in c.kernels)})", k)
        elif c.kernels[-1].sym != name:
            c.add("error", "abi.entry-not-last", c.entry.name_tok,
                  f"the entry kernel `{name}` must be the last kernel of the source (stages run in order; the last is "
                  f"`{c.kernels[-1].sym}`)", c.entry)
    if exp.get("args") is not None:
        with_ = list(exp["args"])
        without = [a for a in with_ if a.get("kind") != "temp"]
        has_temps = len(with_) != len(without)
        for k in c.kernels:
            n = len(k.params)
            if n == len(without):
                check_args(c, k, without)
            elif has_temps and n == len(with_):
                check_args(c, k, with_)
            else:
                want = str(len(without))
                if has_temps:
                    want += f" (or {len(with_)} with the temporaries)"
                c.add("error", "abi.arg-count", k.name_tok,
                      f"kernel `{k.sym}` takes {n} argument(s); the ABI expects {want}: "
                      f"{', '.join(a.get('name', '') for a in with_)}", k)
    elif exp.get("arg_count") is not None and exp["arg_count"] >= 0:
        if len(c.entry.params) != exp["arg_count"]:
            c.add("error", "abi.arg-count", c.entry.name_tok,
                  f"kernel `{c.entry.sym}` takes {len(c.entry.params)} argument(s); expected {exp['arg_count']}",
                  c.entry)


# ------------------------------------------------------------------ @launch
def _lconst(node) -> Optional[int]:
    if isinstance(node, int):
        return node
    if isinstance(node, str):
        return None
    op, a, b = node
    x, y = _lconst(a), _lconst(b)
    if x is None or y is None:
        return None
    if op == "+":
        r = x + y
    elif op == "-":
        r = x - y
    elif op == "*":
        r = x * y
    else:
        if y == 0:
            return None
        if op == "/":
            r = x // y
        elif op == "cdiv":
            r = -(-x // y)
        else:
            r = -(-x // y) * y
    return r if _ok64(r) else None


def _lmultiple(node, m, depth=0) -> bool:
    if m == 1:
        return True
    if m <= 0 or depth > 64:
        return False
    v = _lconst(node)
    if v is not None:
        return v % m == 0
    if isinstance(node, (int, str)):
        return False
    op, a, b = node
    if op in ("+", "-"):
        return _lmultiple(a, m, depth + 1) and _lmultiple(b, m, depth + 1)
    if op == "*":
        if _lmultiple(a, m, depth + 1) or _lmultiple(b, m, depth + 1):
            return True
        ca = _lconst(a)
        if ca is not None:
            from math import gcd
            g = gcd(abs(ca), m)
            return g > 0 and _lmultiple(b, m // g, depth + 1)
        cb = _lconst(b)
        if cb is not None:
            from math import gcd
            g = gcd(abs(cb), m)
            return g > 0 and _lmultiple(a, m // g, depth + 1)
        return False
    if op == "roundup":
        return _lmultiple(b, m, depth + 1)
    return False


def _lnames(node, out):
    if isinstance(node, str):
        if node not in out:
            out.append(node)
    elif isinstance(node, tuple):
        _lnames(node[1], out)
        _lnames(node[2], out)


def _split_texts(raw: str) -> List[str]:
    text = raw.strip()
    if not (text.startswith("(") and text.endswith(")")):
        return [text]
    return [t.strip() for t in _launch._split_top(text[1:-1])]


def rules_launch(c: Ctx):
    ann = c.lx.launches
    nxt = 0
    max_wg = c.exp.get("max_work_group_size") or 1024
    for info, k in zip(c.rep["abi"]["kernels"], c.kernels):
        kpos = c.toks[k.first_tok].off
        pick = None
        a = nxt
        while a < len(ann) and ann[a][2] < kpos:
            pick = a
            a += 1
        if pick is None:
            if not c.is_tt:
                form = "grid=(...) block=(...)" if c.is_cuda else "global=(...) local=(...)"
                c.add("error", "launch.missing", k.name_tok,
                      f"kernel `{k.sym}` has no `// @launch {form}` annotation above it", k)
            continue
        nxt = pick + 1
        line, col, _off, body = ann[pick]
        li = {"kernel": k.sym, "line": line, "text": ("@launch" + body[:200]).rstrip(" \t\r"), "ok": False,
              "error": None, "grid_style": False, "global": [], "local": None, "smem": None}
        info["launch"] = len(c.rep["launch"])
        c.rep["launch"].append(li)
        try:
            stage = _launch.parse_annotation("// @launch" + body, k.sym)
        except Exception as e:  # LaunchError, and the crashes of launch.py on some inputs
            msg = str(e) if isinstance(e, _launch.LaunchError) else "cannot read the annotation"
            li["error"] = msg
            c.add_lc("error", "launch.malformed", line, col, f"@launch of `{k.sym}`: {msg}", k)
            continue
        li["ok"] = True
        li["grid_style"] = stage.grid_style
        fields = _launch._fields(body)
        if stage.grid_style:
            li["global"] = _split_texts(fields["grid"])
            li["local"] = _split_texts(fields["block"])
            if "smem" in fields:
                li["smem"] = fields["smem"].strip()
        else:
            li["global"] = _split_texts(fields["global"])
            li["local"] = _split_texts(fields["local"]) if stage.local_expr else None
        if c.exp.get("args") is not None:
            sizes = [a.get("name", "") for a in c.exp["args"] if a.get("kind") == "size"]
        else:
            sizes = [p.sym for p in k.params if p.sym and not p.ptr and not p.is_array() and p.ts.word in INTEGER_TYPES]
        names: List[str] = []
        for nd in stage.global_expr:
            _lnames(nd, names)
        for nd in stage.local_expr or ():
            _lnames(nd, names)
        if stage.shared_expr is not None:
            _lnames(stage.shared_expr, names)
        for nme in names:
            if nme not in sizes:
                extra = " (the kernel has no integer size arguments)" if not sizes else f" (sizes: {', '.join(sizes)})"
                c.add_lc("error", "launch.unknown-symbol", line, col,
                         f"@launch of `{k.sym}` uses `{nme}`, which is not a size symbol{extra}", k)
        local = list(stage.local_expr or ())
        loc = [_lconst(nd) for nd in local]
        loc_const = bool(local) and all(v is not None for v in loc)
        if loc_const:
            if any(v <= 0 for v in loc):
                what = "block" if stage.grid_style else "local"
                c.add_lc("error", "launch.malformed", line, col,
                         f"@launch of `{k.sym}`: {what} size ({', '.join(map(str, loc))}) has an empty or negative "
                         "dimension", k)
                loc_const = False
        prod = 1
        if loc_const:
            for v in loc:
                prod = prod if prod > (1 << 40) else prod * v
            if prod > max_wg:
                c.add_lc("error", "res.work-group-size", line, col,
                         f"@launch of `{k.sym}` asks for {prod} work-items per group; the limit is {max_wg}", k)
        if not stage.grid_style and local:
            if len(stage.global_expr) != len(local):
                c.add_lc("error", "launch.dims", line, col,
                         f"@launch of `{k.sym}`: global has {len(stage.global_expr)} dimension(s) but local has "
                         f"{len(local)}", k)
            elif loc_const:
                for d, g in enumerate(stage.global_expr):
                    gv = _lconst(g)
                    if gv is not None:
                        if gv % loc[d] != 0:
                            c.add_lc("error", "launch.not-multiple", line, col,
                                     f"@launch of `{k.sym}`: global size {gv} is not a multiple of local size "
                                     f"{loc[d]} in dimension {d}", k)
                    elif not _lmultiple(g, loc[d]):
                        gt = li["global"][d]
                        c.add_lc("warning", "launch.not-multiple", line, col,
                                 f"@launch of `{k.sym}`: global size `{gt}` is not always a multiple of local size "
                                 f"{loc[d]} (use roundup({gt}, {loc[d]}) and guard the extra work-items)", k)
        reqd = info["reqd_work_group_size"] or []
        if reqd and all(v > 0 for v in reqd):
            match = loc_const
            if loc_const:
                for d in range(max(len(reqd), len(loc))):
                    if (reqd[d] if d < len(reqd) else 1) != (loc[d] if d < len(loc) else 1):
                        match = False
            if not match:
                how = ("leaves the local size to the runtime" if not local
                       else f"sets local=({', '.join(li['local'])})")
                c.add("error", "launch.reqd-mismatch", k.name_tok,
                      f"kernel `{k.sym}` requires reqd_work_group_size({', '.join(map(str, reqd))}) but its @launch "
                      f"{how}", k)
        bounds = info["launch_bounds"] or []
        if bounds and bounds[0] > 0 and loc_const and prod > bounds[0]:
            c.add("error", "launch.bounds-exceeded", k.name_tok,
                  f"kernel `{k.sym}` is compiled for at most {bounds[0]} threads per block (__launch_bounds__) but "
                  f"@launch uses {prod}", k)
        if info["dynamic_shared"] and c.is_cuda and stage.shared_expr is None:
            c.add_lc("error", "launch.smem-missing", line, col,
                     f"kernel `{k.sym}` uses `extern __shared__` memory but its @launch has no smem=BYTES", k)
        if stage.shared_expr is not None:
            sm = _lconst(stage.shared_expr)
            limit = c.exp.get("local_mem_bytes") or 49152
            if sm is not None and sm + info["local_mem_bytes"] > limit:
                c.add_lc("error", "res.local-mem-limit", line, col,
                         f"kernel `{k.sym}` needs {sm + info['local_mem_bytes']} bytes of shared memory (smem={sm} "
                         f"plus {info['local_mem_bytes']} static); the limit is {limit}", k)


# ------------------------------------------------------------------ driver
def _empty_report(target, nbytes):
    return {
        "target": target, "ok": True, "fatal": False, "errors": 0, "warnings": 0, "infos": 0, "findings": [],
        "resources": {"local_mem_bytes": 0, "local_mem_unknown": False, "dynamic_shared": False, "private_bytes": 0,
                      "private_arrays": [], "registers_estimate": 0, "reqd_work_group_size": None,
                      "launch_bounds": None, "circular_buffers": [], "cb_bytes": 0},
        "sync": {"barriers": 0, "barriers_in_loops": 0, "divergent_barriers": 0},
        "memory": {"vector_loads": 0, "vector_stores": 0, "vector_casts": 0, "unit_stride": 0, "strided": 0,
                   "uniform": 0, "irregular": 0, "atomics": 0},
        "abi": {"entry": None, "kernels": [], "runtime_args": None, "compile_time_args": None},
        "launch": [],
        "stats": {"bytes": nbytes, "lines": 0, "tokens": 0, "functions": 0},
    }


_SEV_RANK = {"error": 0, "warning": 1, "info": 2}


def _finalize(rep, findings):
    findings.sort(key=lambda f: (_SEV_RANK[f["severity"]], f["line"], f["col"], f["code"]))
    out = []
    for f in findings:
        if out and out[-1]["line"] == f["line"] and out[-1]["col"] == f["col"] and out[-1]["code"] == f["code"]:
            continue
        out.append(f)
    if len(out) > MAX_FINDINGS:
        dropped = len(out) - MAX_FINDINGS
        out = out[:MAX_FINDINGS]
        out.append({"severity": "info", "code": "report.truncated", "message": f"{dropped} more finding(s) left out",
                    "line": 0, "col": 0, "function": ""})
    rep["findings"] = out
    ne = sum(1 for f in out if f["severity"] == "error")
    nw = sum(1 for f in out if f["severity"] == "warning")
    rep.update(ok=ne == 0, errors=ne, warnings=nw, infos=len(out) - ne - nw)
    return rep


def _macros(lx: Lexed, target: str) -> Dict[str, Optional[int]]:
    out: Dict[str, Optional[int]] = {}
    pp = lx.pp
    for _line, _col, _off, b, e in lx.dirs:
        if e - b < 3:
            continue
        kw, nm = pp[b], pp[b + 1]
        if kw.kind != ID or kw.text != "define" or nm.kind != ID:
            continue
        nx = pp[b + 2]
        if nx.kind == PUN and nx.text == "(" and nx.off == nm.off + len(nm.text):
            continue
        body = pp[b + 2:e]
        match = [-1] * (len(body) + 1)
        stack = []
        ok = True
        for k, t in enumerate(body):
            if t.kind != PUN:
                continue
            if t.text in ("(", "[", "{"):
                stack.append(k)
            elif t.text in (")", "]", "}"):
                if not stack:
                    ok = False
                    break
                match[k] = stack[-1]
                match[stack[-1]] = k
                stack.pop()
        if not ok or stack:
            continue
        toks = body + [Tok(END, "", 0, 0, 0)]
        p = Parser(toks, match, target, set())
        v = None
        try:
            x = p.expr_range(0, len(body))
            v = const_eval(toks, x, {k2: v2 for k2, v2 in out.items() if v2 is not None})
        except TooDeep:
            v = None
        if nm.text in out:
            out[nm.text] = None
        else:
            out[nm.text] = v
    return out


def analyze_dict(source, target: str = "opencl", expected: Optional[dict] = None) -> Dict[str, Any]:
    """The same report as `uhop_cc._native.analyze`, computed in pure Python."""
    if target in ("tt-metal", "tt_metal"):
        target = "ttmetal"
    if target not in TARGETS:
        raise ValueError(f"unknown target `{target}` (known: opencl, cuda, ttmetal)")
    if isinstance(source, bytes):
        src = source.decode("latin-1")
        nbytes = len(source)
    else:
        src = source
        nbytes = len(source.encode("utf-8", "surrogatepass"))
        if nbytes != len(src):  # keep byte columns: analyse the UTF-8 bytes
            src = source.encode("utf-8", "surrogatepass").decode("latin-1")
    exp = dict(expected or {})
    rep = _empty_report(target, nbytes)
    if nbytes > MAX_SOURCE:
        return _finalize(rep, [{"severity": "error", "code": "input.too-large",
                                "message": f"source is {nbytes} bytes; the analyzer accepts at most {MAX_SOURCE} bytes",
                                "line": 1, "col": 1, "function": ""}]) | {"fatal": True}
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 20000))
    try:
        return _analyze(src, target, exp, rep)
    finally:
        sys.setrecursionlimit(old_limit)


def _analyze(src, target, exp, rep):
    lx = lex(src)
    rep["stats"]["lines"] = lx.lines
    rep["stats"]["tokens"] = len(lx.toks) - 1
    findings = [{"severity": "error", "code": code, "message": msg, "line": line, "col": col, "function": ""}
                for code, msg, line, col in lx.issues]
    if lx.fatal:
        rep["fatal"] = True
        return _finalize(rep, findings)
    macros = _macros(lx, target)
    parser = Parser(lx.toks, lx.match, target, mark_types(lx))
    try:
        parser.file(0, len(lx.toks) - 1)
    except TooDeep:
        t = lx.toks[min(parser.too_deep_tok or 0, len(lx.toks) - 1)]
        findings.append({"severity": "error", "code": "parse.too-deep",
                         "message": f"statements or expressions nested deeper than {MAX_NEST} levels",
                         "line": t.line, "col": t.col, "function": ""})
        rep["fatal"] = True
        return _finalize(rep, findings)
    rep["stats"]["functions"] = len(parser.funcs)
    c = Ctx(src, target, exp, lx, parser)
    c.rep = rep
    c.findings = findings
    build_constants(c, macros)
    build_functions(c)
    need_taint = {f.index: c.fn_barrier[f.index] for f in c.funcs}
    for g in c.funcs:
        if c.fn_barrier[g.index]:
            for h, _x in c.calls[g.index]:
                need_taint[h.index] = True
    for f in c.funcs:
        c.fn = f
        load_vars(c, f)
        c.varying = set()
        c.cls = {}
        c.flags = {}
        if not c.is_tt and need_taint[f.index]:
            taint(c, f)
            ret_varying(c, f)
        rules_resources(c, f)
        if c.is_tt:
            rules_ttmetal(c, f)
        else:
            rules_sync(c, f)
            rules_memory(c, f)
        rules_safety_fn(c, f)
    c.fn = None
    c.var = {}
    rules_safety_file(c)
    rules_abi(c)
    aggregate_resources(c)
    rules_launch(c)
    return _finalize(rep, c.findings)
