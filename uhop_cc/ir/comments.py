"""Comments kept through `uhopc fmt`: the grammar drops them, so they are found in the text
and re-attached to the printed program.

Each comment attaches to an *anchor*, a construct the printer puts on one line: a kernel
header, a statement, a kernel's closing brace, or the end of the file. A comment after code
on the last line of an anchor stays trailing on that anchor's line; every other comment
goes, on its own line, above the anchor it sits in or the next anchor after it. Comments
therefore keep their order, and formatting twice gives the same text.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from . import nodes as N
from . import printer

_EOF = 1 << 60


@dataclass(frozen=True)
class Comment:
    line: int
    text: str  # from '#' to the end of the line, trailing blanks removed
    own_line: bool  # nothing but blanks before it on its line


@dataclass
class _Anchor:
    start: int
    end: int
    leading: List[Comment] = field(default_factory=list)
    trailing: List[Comment] = field(default_factory=list)


def _lines(text: str) -> List[str]:
    # Lines as the parser counts them: only '\n' ends one (str.splitlines also splits at \u2028 etc.).
    return text.split("\n")


def scan(text: str) -> List[Comment]:
    """Every comment of a UIR text. UIR has no string literals, so each '#' starts one."""
    out = []
    for n, line in enumerate(_lines(text), 1):
        at = line.find("#")
        if at >= 0:
            out.append(Comment(n, line[at:].rstrip(), not line[:at].strip()))
    return out


def _brace_line(lines: List[str], k: N.Kernel) -> int:
    """The line of the `{` opening k's body (the header may span lines; comments may hold braces)."""
    for n in range(k.loc.line, len(lines) + 1):
        code = lines[n - 1].split("#", 1)[0]
        start = k.loc.col - 1 if n == k.loc.line else 0
        if "{" in code[start:]:
            return n
    return k.loc.line


def _anchors(program: N.Program, text: str) -> Tuple[List[_Anchor], Dict[Tuple[int, int], _Anchor]]:
    """Anchors in source order, and by (kernel, item): item -1 the header, len(body) the brace."""
    lines = _lines(text)
    ordered, by_key = [], {}
    for ki, k in enumerate(program.kernels):
        spans = [(k.loc.line, _brace_line(lines, k))]
        spans += [(s.loc.line, s.loc.end_line or s.loc.line) for s in k.body]
        close = k.loc.end_line or k.loc.line
        spans.append((close, close))
        for item, (start, end) in enumerate(spans, -1):
            a = _Anchor(start, end)
            ordered.append(a)
            by_key[(ki, item)] = a
    eof = _Anchor(_EOF, _EOF)
    ordered.append(eof)
    by_key[(-1, 0)] = eof
    return ordered, by_key


def _attach(comments: List[Comment], anchors: List[_Anchor]) -> None:
    starts = [a.start for a in anchors]
    for c in comments:
        i = bisect.bisect_right(starts, c.line) - 1
        if i >= 0 and c.line <= anchors[i].end:
            inside = anchors[i]
            if c.line == inside.end and not c.own_line:
                inside.trailing.append(c)
            else:
                inside.leading.append(c)
        else:
            anchors[i + 1].leading.append(c)


def _emit(out: List[str], a: _Anchor, indent: str, code: str) -> None:
    out.extend(indent + c.text for c in a.leading)
    if code:
        out.append("  ".join([indent + code] + [c.text for c in a.trailing]))


def format_program(program: N.Program, text: str) -> str:
    """The canonical text of `program` (parsed from `text`) with `text`'s comments in place."""
    comments = scan(text)
    if not comments:
        return printer.program(program)
    anchors, by_key = _anchors(program, text)
    _attach(comments, anchors)
    out: List[str] = []
    for ki, k in enumerate(program.kernels):
        if ki:
            out.append("")
        _emit(out, by_key[(ki, -1)], "", printer.kernel_head(k))
        for si, s in enumerate(k.body):
            _emit(out, by_key[(ki, si)], "    ", printer.stmt(s))
        close = by_key[(ki, len(k.body))]
        out.extend("    " + c.text for c in close.leading)
        out.append("  ".join(["}"] + [c.text for c in close.trailing]))
    _emit(out, by_key[(-1, 0)], "", "")
    return "\n".join(out) + "\n"
