"""Tokens of OpenCL C / CUDA source text and macro expansion."""
from __future__ import annotations

import re
from typing import Optional


class Stop(Exception):
    """Parse error, or an input too large or too deep to analyse."""


# ------------------------------------------------------------------ lexer and macro expansion
_TOKEN = re.compile(r"""(?P<sp>\s+|//[^\n]*|/\*.*?(?:\*/|\Z))
 |(?P<num>(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[uUlLfFhH]*)
 |(?P<id>[A-Za-z_]\w*)
 |(?P<str>"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?)
 |(?P<op>\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||::|[-+*/%&|^]=|\S)""", re.S | re.X)
MAX_TOKENS = 400_000


def lex(text: str, line: int, pos: int) -> list:
    out = []
    for m in _TOKEN.finditer(text):
        kind, s = m.lastgroup, m.group()
        if kind != "sp":
            out.append((kind, s, line, pos + m.start(), pos + m.end()))
        if "\n" in s:
            line += s.count("\n")
    return out


def expand(toks: list, macros: dict, hide: frozenset = frozenset(), count: Optional[list] = None) -> list:
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
        table = {p: expand(a, macros, hide, count) for p, a in zip(params or (), args)}
        if params and "..." in params:
            rest = args[len(params) - 1:]
            comma = ("op", ",", t[2], t[3], t[4])
            table["__VA_ARGS__"] = [x for k, a in enumerate(rest)
                                    for x in [comma][:k] + expand(a, macros, hide, count)]
        sub = []
        for b in body:
            sub.extend(table[b[1]] if b[0] == "id" and b[1] in table else
                       [(b[0], b[1], t[2], t[3], t[4])] if b[1] not in ("#", "##") else [])
        count[0] += len(sub)
        if count[0] > MAX_TOKENS:
            raise Stop("macro expansion too large")
        out.extend(expand(sub, macros, hide | {t[1]}, count))
        i = j
    return out
