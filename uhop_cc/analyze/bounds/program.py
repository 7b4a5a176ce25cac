"""The preprocessor and the parsed program (functions, globals, bodies) of one source."""
from __future__ import annotations

import functools
import re
from typing import Dict, List, Optional

from ...targets.dialect import PLAIN_C
from ..preprocess import dialect_of
from .lexer import expand, lex, MAX_TOKENS, Stop
from .syntax import Func, functions, Node, Parser
from .values import Env, V
from .run import Run


_DIRECTIVE = re.compile(r"[ \t]*#[ \t]*(\w*)(.*)")
_DEFINE = re.compile(r"\s*([A-Za-z_]\w*)(?:\(([^)]*)\))?(.*)", re.S)


def _pp_true(rest: str, macros: dict) -> bool:
    toks, out, k = lex(rest, 0, 0), [], 0
    while k < len(toks):
        if toks[k][1] == "defined":
            paren = k + 1 < len(toks) and toks[k + 1][1] == "("
            name = toks[k + 1 + paren][1] if k + 1 + paren < len(toks) else ""
            out.append(("num", "1" if name in macros else "0", 0, 0, 0))
            k += 2 + 2 * paren
            continue
        out.append(toks[k])
        k += 1
    toks = [("num", "0", 0, 0, 0) if t[0] == "id" else t for t in expand(out, macros)]
    try:
        v = Run(None, None, PLAIN_C.name, None).ev(Parser(toks, PLAIN_C).expr(), Env())  # identifiers are 0 by now
        return not (isinstance(v, V) and v.lo == v.hi == 0)
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
            out.extend(expand(lex("\n".join(chunk), *start), macros, count=count))
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
                macros[d.group(1)] = (params, lex(d.group(3), i + 1, pos))
        elif active and name == "undef":
            macros.pop(rest.strip(), None)
        for k in range(i, j + 1):
            pos += len(lines[k]) + 1
        i = j + 1
        chunk, start = [], (i + 1, pos)
    if chunk and active:
        out.extend(expand(lex("\n".join(chunk), *start), macros, count=count))
    if len(out) > MAX_TOKENS:
        raise Stop("source too large")
    return out


# ------------------------------------------------------------------ parsed sources
class _Program:
    def __init__(self, source: str, target: str):
        self.src, self.dialect = source, dialect_of(target)
        self.toks = _tokens(source)
        self.funcs, spans = functions(self.toks, self.dialect)
        self.globals: List[Node] = []
        for s, e in spans:
            p = Parser(self.toks[:e], self.dialect)
            p.i = s
            try:
                if p.is_decl():
                    self.globals.append(p.decl(s))
            except (Stop, RecursionError):
                pass
        self.bodies: Dict[str, Optional[Node]] = {}

    def body(self, fn: Func) -> Optional[Node]:
        if fn.name not in self.bodies:
            p = Parser(self.toks[:fn.body[1]], self.dialect)
            p.i = fn.body[0]
            try:
                self.bodies[fn.name] = p.block()
            except (Stop, RecursionError):
                self.bodies[fn.name] = None
        return self.bodies[fn.name]


@functools.lru_cache(maxsize=16)
def program_of(source: str, target: str) -> _Program:
    return _Program(source, target)
