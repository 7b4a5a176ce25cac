"""Kernel code out of an LLM reply.

Replies come as prose around fenced blocks (``` or ~~~, info string opencl, cl, c, cpp, c++,
cuda, cu, or none), sometimes several blocks (a first try and a corrected one, host code, a
helper), sometimes a truncated last block, sometimes no fence at all. `extract_code` picks the
block(s) holding the entry kernel: the last block defining it, preceded by earlier blocks that
define other annotated kernels (stages) it lacks. Without fences the code region around the
kernel functions is cut out of the prose by brace matching.
"""
from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .. import targets

__all__ = ["Block", "Extraction", "fenced_blocks", "kernel_names", "extract_code", "extract_roles", "split_roles",
           "CODE_LANGS"]

# fence info strings taken for code: every target's own, and the usual aliases
CODE_LANGS = frozenset({"", "cl", "ocl", "c", "cpp", "c++", "cxx", "cc", "h", "hpp", "cu", "cuh"} |
                       {targets.get(n).fence for n in targets.names()})

# Every pattern here must stay linear in the reply's length: replies come from a server we do not
# trust (a 960 KB reply once took 283 s). So no `.*?` under re.S that can rescan to the end from
# many starts, and parenthesised groups use disjoint alternatives (a non-paren character, or a
# balanced paren group, two levels deep at most) so that a scan stops at the first paren that
# does not fit, instead of running to the end of the reply once per start.
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([^\s`{]*)[^\n]*$")
_CLOSE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*$")
_FENCE_LINE = re.compile(r"^[ \t]{0,3}(?:`{3}|~{3})[^\n]*", re.M)  # candidate fence lines, opening or closing
_COMMENT = re.compile(r"//|/\*")
_NOT_NEWLINE = re.compile(r"[^\n]")
_QUOTED = {q: re.compile(rf"[^{q}\\]*(?:\\.[^{q}\\]*)*", re.S) for q in "\"'"}  # a literal's body
_BRACE_OR_QUOTE = re.compile(r"[{}\"']")
_HOST_HINTS = re.compile(r"\bint\s+main\s*\(|\bclCreate\w+\s*\(|\bcudaMalloc\s*\(|#include\s*<(?:CL/|iostream|vector)")


@dataclass
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the opening fence in the reply
    closed: bool = True
    before: str = ""  # the prose line just above the fence (role hints)


@dataclass
class Extraction:
    source: Optional[str]
    reason: str = ""  # why nothing was found, or notes on the choice
    blocks: int = 0  # code blocks seen
    chosen: List[int] = field(default_factory=list)  # indexes of the blocks used
    kernels: List[str] = field(default_factory=list)  # kernel functions in the source
    sources: Dict[str, str] = field(default_factory=dict)  # TT-Metal: role -> source

    @property
    def ok(self) -> bool:
        return bool(self.source and self.source.strip())

    def to_json(self) -> dict:
        return {"ok": self.ok, "reason": self.reason, "blocks": self.blocks, "chosen": self.chosen,
                "kernels": self.kernels, "roles": sorted(self.sources)}


def _normalise(text: str) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def fenced_blocks(text: str) -> List[Block]:
    """Every fenced block, in order; an unclosed last block runs to the end of the text."""
    text = _normalise(text)
    out: List[Block] = []
    pos, line_no, counted = 0, 1, 0  # scan position; the 1-based line number of offset `counted`
    # Only lines that could be fences are visited (a regex scan), so a reply of a million short
    # prose lines costs one pass, not a Python loop over every line.
    while True:
        m = _FENCE_LINE.search(text, pos)
        f = _FENCE.match(m.group(0)) if m else None
        if f is None:
            return out
        fence, lang = f.group(1), f.group(2).strip().lower().lstrip(".")
        line_no += text.count("\n", counted, m.start())
        counted = m.start()
        prose = text[pos:m.start()].rstrip()  # the last non-blank line above the fence, since the last block
        before = prose[prose.rfind("\n") + 1:].strip()
        body_start = min(m.end() + 1, len(text))
        close = _closing_fence(text, body_start, fence)
        body_end, pos = (close.start(), close.end()) if close else (len(text), len(text))
        out.append(Block(lang, text[body_start:body_end].strip("\n") + "\n", line_no, close is not None, before))


def _closing_fence(text: str, start: int, fence: str):
    """The match of the line at or after `start` closing a block opened by `fence`, or None."""
    for m in _FENCE_LINE.finditer(text, start):
        c = _CLOSE.match(m.group(0))
        if c and c.group(1)[0] == fence[0] and len(c.group(1)) >= len(fence):
            return m
    return None


def _pattern(target: str):
    """The target's kernel-definition pattern (the default target's for a name the registry lacks)."""
    try:
        return targets.get(target).kernel_pattern
    except ValueError:
        return targets.get(targets.DEFAULT).kernel_pattern


def kernel_names(code: str, target: str = targets.DEFAULT) -> List[str]:
    pat = _pattern(target)
    return [m.group(1) for m in pat.finditer(_strip_comments(code))]


def _strip_comments(code: str) -> str:
    """`code` with comments blanked (newlines kept, so offsets and line numbers stay put); `//`
    comments holding a `@launch` annotation are kept. One left-to-right pass: an unclosed `/*`
    is left as it is (and so is every later one, which cannot be closed either)."""
    out: List[str] = []
    pos, skip, closable = 0, 0, True  # copied up to `pos`; comment starts before `skip` are inside one
    for m in _COMMENT.finditer(code):
        i = m.start()
        if i < skip:
            continue
        if m.group(0) == "//":
            end = code.find("\n", i)
            end = len(code) if end < 0 else end
            if "@launch" in code[i:end]:
                skip = end
                continue
        elif closable:
            end = code.find("*/", i + 2)
            if end < 0:
                closable = False
                continue
            end += 2
        else:
            continue
        out.append(code[pos:i])
        out.append(_NOT_NEWLINE.sub(" ", code[i:end]))
        pos = skip = end
    out.append(code[pos:])
    return "".join(out)


def _other_target(target: str) -> str:
    """Another C-style dialect, whose kernels in a reply mean the model answered in the wrong language."""
    return next((n for n in targets.c_style() if n != target), targets.DEFAULT)


def extract_code(reply: str, target: str = targets.DEFAULT, entry: Optional[str] = None) -> Extraction:
    """The kernel source in `reply` for `target`, or an Extraction with source None and a reason."""
    text = _normalise(reply)
    if not text.strip():
        return Extraction(None, "the reply is empty")
    if target in targets.names() and targets.get(target).kernel_roles:
        return extract_roles(text, target)
    blocks = fenced_blocks(text)
    code_blocks = [(i, b) for i, b in enumerate(blocks) if b.lang in CODE_LANGS and b.code.strip()]
    if code_blocks:
        named = [(i, b, kernel_names(b.code, target)) for i, b in code_blocks]
        with_kernels = [(i, b, ks) for i, b, ks in named if ks]
        if not with_kernels:
            wrong = [i for i, b in code_blocks if kernel_names(b.code, _other_target(target))]
            why = (f"the code is not {target} (it defines {_other_target(target)} kernels)" if wrong else
                   "no kernel function in the reply's code blocks")
            return Extraction(None, why, len(code_blocks))
        chosen_i = None
        if entry:
            for i, b, ks in with_kernels:
                if entry in ks:
                    chosen_i = i  # the last one wins: replies often end with the corrected version
        notes = ""
        if chosen_i is None:
            chosen_i = with_kernels[-1][0]
            if entry:
                notes = f"no block defines kernel `{entry}`; took the last block with a kernel"
        main = blocks[chosen_i]
        have = set(kernel_names(main.code, target))
        parts, used = [], []
        for i, b, ks in with_kernels:
            if i >= chosen_i:
                break
            extra = [k for k in ks if k not in have]
            if extra and len(extra) == len(ks) and "@launch" in b.code and not _HOST_HINTS.search(b.code):
                parts.append(b.code)
                used.append(i)
                have.update(extra)
        parts.append(main.code)
        used.append(chosen_i)
        source = "\n".join(p.rstrip("\n") for p in parts) + "\n"
        if not main.closed:
            notes = (notes + "; " if notes else "") + "the last code block is not closed (truncated reply?)"
        return Extraction(source, notes, len(code_blocks), used, kernel_names(source, target))
    # no fences: cut the code out of the prose
    clean = _strip_comments(text)
    ms = list(_pattern(target).finditer(clean))
    if not ms:
        if _pattern(_other_target(target)).search(clean):
            return Extraction(None, f"the reply's code is not {target}")
        return Extraction(None, "no code block and no kernel function in the reply")
    lines = text.split("\n")
    starts = list(itertools.accumulate((len(ln) + 1 for ln in lines[:-1]), initial=0))  # offset of each line

    def line_of(off: int) -> int:  # a bisection: replies can have a million lines
        return bisect.bisect_right(starts, off) - 1

    first = line_of(ms[0].start())
    start = first
    while start > 0 and _codeish(lines[start - 1]):
        start -= 1
    end_off = _match_brace(clean, ms[-1].end())
    if end_off is None:
        end_line = len(lines) - 1
        notes = "the last kernel is not closed (truncated reply?)"
    else:
        end_line = line_of(end_off)
        notes = "no code fence: the code was cut out of the prose"
    source = "\n".join(lines[start:end_line + 1]).strip("\n") + "\n"
    return Extraction(source, notes, 0, [], kernel_names(source, target))


def _codeish(line: str) -> bool:
    s = line.strip()
    if not s:
        return True
    if s.startswith(("//", "/*", "*", "#", "typedef", "inline", "static", "__constant", "constant", "struct",
                     "float", "int", "half", "double", "uint", "const", "template", "__device__", "}", "{")):
        return True
    return s.endswith((";", "{", "}", "*/"))


def _match_brace(code: str, pos: int) -> Optional[int]:
    """The offset of the `}` closing the first `{` at or after pos (braces in quotes do not count).
    Regex hops from brace to brace: a Python loop over every character of a 1 MB reply is slow."""
    i = code.find("{", pos)
    if i < 0:
        return None
    depth = 0
    while True:
        m = _BRACE_OR_QUOTE.search(code, i)
        if m is None:
            return None
        c, i = m.group(0), m.start()
        if c in "\"'":
            end = _QUOTED[c].match(code, i + 1).end()
            if end >= len(code) or code[end] != c:  # an unclosed literal: no closing brace
                return None
            i = end  # the closing quote
        elif c == "{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return i
        i += 1


# ------------------------------------------------------------------ one kernel per role (TT-Metal)
def _role(b: Block, roles) -> Optional[str]:
    head = "\n".join(b.code.split("\n", 3)[:3]).lower() + "\n" + b.before.lower()
    for r in roles:
        if re.search(rf"\b{r}\b|{r}\.cpp|{r}_", head):
            return r
    # TT-Metal's roles told apart by their code: the compute kernel's MAIN, a dataflow kernel's NoC direction
    code = _strip_comments(b.code)
    if re.search(r"\bvoid\s+MAIN\b|namespace\s+NAMESPACE", code):
        return "compute"
    if "kernel_main" in code:
        if "noc_async_write" in code and "noc_async_read" not in code:
            return "writer"
        if "noc_async_read" in code and "noc_async_write" not in code:
            return "reader"
    return None


def extract_roles(reply: str, target: str) -> Extraction:
    """A target whose program is one kernel per role (TT-Metal: reader, compute, writer): role ->
    source from fenced blocks, told apart by a `// <role>` first line, the prose above, or their code."""
    t = targets.get(target)
    roles = t.kernel_roles
    blocks = [(i, b) for i, b in enumerate(fenced_blocks(reply)) if b.lang in CODE_LANGS and b.code.strip()]
    sources: Dict[str, str] = {}
    used: List[int] = []
    for i, b in blocks:
        r = _role(b, roles)
        if r in roles and kernel_names(b.code, target):
            sources[r] = b.code  # later blocks replace earlier ones
            used.append(i)
    if not sources:
        return Extraction(None, "no TT-Metal kernel (kernel_main / MAIN) in the reply's code blocks", len(blocks))
    missing = [r for r in roles if r not in sources]
    joined = "\n".join(f"// ==== {r} ====\n{sources[r].rstrip()}" for r in roles if r in sources) + "\n"
    return Extraction(joined, f"missing kernel(s): {', '.join(missing)}" if missing else "", len(blocks), used,
                      [r for r in roles if r in sources], sources)


def split_roles(joined: str) -> Dict[str, str]:
    """The role -> source map back out of an archived per-role candidate (extract_roles's `source`)."""
    parts = re.split(r"^// ==== ([A-Za-z_]\w*) ====\n", joined, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
