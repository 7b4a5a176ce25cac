"""Kernel code out of an LLM reply.

Replies come as prose around fenced blocks (``` or ~~~, info string opencl, cl, c, cpp, c++,
cuda, cu, or none), sometimes several blocks (a first try and a corrected one, host code, a
helper), sometimes a truncated last block, sometimes no fence at all. `extract_code` picks the
block(s) holding the entry kernel: the last block defining it, preceded by earlier blocks that
define other annotated kernels (stages) it lacks. Without fences the code region around the
kernel functions is cut out of the prose by brace matching.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

__all__ = ["Block", "Extraction", "fenced_blocks", "kernel_names", "extract_code", "extract_ttmetal", "CODE_LANGS"]

CODE_LANGS = frozenset({"", "opencl", "cl", "ocl", "c", "cpp", "c++", "cxx", "cc", "h", "hpp", "cuda", "cu", "cuh"})

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([^\s`{]*)[^\n]*$")
_KERNEL = {
    "opencl": re.compile(r"(?:\b__kernel|\bkernel)\s+(?:__attribute__\s*\(\(.*?\)\)\s*)?void\s+([A-Za-z_]\w*)\s*\(", re.S),
    "cuda": re.compile(r"__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(?:static\s+)?void\s+([A-Za-z_]\w*)\s*\(",
                       re.S),
    "ttmetal": re.compile(r"\bvoid\s+(kernel_main(?=\s*\()|MAIN\b)"),
}
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
    lines = _normalise(text).split("\n")
    out: List[Block] = []
    i = 0
    prev_prose = ""
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                prev_prose = lines[i].strip()
            i += 1
            continue
        fence, lang = m.group(1), m.group(2).strip().lower().lstrip(".")
        start, body = i, []
        i += 1
        closed = False
        while i < len(lines):
            c = re.match(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*$", lines[i])
            if c and c.group(1)[0] == fence[0] and len(c.group(1)) >= len(fence):
                closed = True
                break
            body.append(lines[i])
            i += 1
        out.append(Block(lang, "\n".join(body).strip("\n") + "\n", start + 1, closed, prev_prose))
        prev_prose = ""
        i += 1
    return out


def kernel_names(code: str, target: str = "opencl") -> List[str]:
    pat = _KERNEL.get(target, _KERNEL["opencl"])
    return [m.group(1) for m in pat.finditer(_strip_comments(code))]


def _strip_comments(code: str) -> str:
    code = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), code, flags=re.S)
    return re.sub(r"//[^\n]*", lambda m: " " * len(m.group(0)) if "@launch" not in m.group(0) else m.group(0), code)


def _other_target(target: str) -> str:
    return "cuda" if target == "opencl" else "opencl"


def extract_code(reply: str, target: str = "opencl", entry: Optional[str] = None) -> Extraction:
    """The kernel source in `reply` for `target`, or an Extraction with source None and a reason."""
    text = _normalise(reply)
    if not text.strip():
        return Extraction(None, "the reply is empty")
    if target == "ttmetal":
        return extract_ttmetal(text)
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
    pat = _KERNEL.get(target, _KERNEL["opencl"])
    ms = list(pat.finditer(clean))
    if not ms:
        if _KERNEL[_other_target(target)].search(clean):
            return Extraction(None, f"the reply's code is not {target}")
        return Extraction(None, "no code block and no kernel function in the reply")
    lines = text.split("\n")
    offsets, pos = [], 0
    for ln in lines:
        offsets.append(pos)
        pos += len(ln) + 1

    def line_of(off: int) -> int:
        lo = 0
        for k, o in enumerate(offsets):
            if o <= off:
                lo = k
        return lo

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
    """The offset of the `}` closing the first `{` at or after pos."""
    i = code.find("{", pos)
    if i < 0:
        return None
    depth = 0
    while i < len(code):
        c = code[i]
        if c in "\"'":
            j = i + 1
            while j < len(code) and code[j] != c:
                j += 2 if code[j] == "\\" else 1
            i = j
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


# ------------------------------------------------------------------ TT-Metal
_ROLES = ("reader", "compute", "writer")


def _role(b: Block) -> Optional[str]:
    head = "\n".join(b.code.split("\n")[:3]).lower() + "\n" + b.before.lower()
    for r in _ROLES:
        if re.search(rf"\b{r}\b|{r}\.cpp|{r}_", head):
            return r
    code = _strip_comments(b.code)
    if re.search(r"\bvoid\s+MAIN\b|namespace\s+NAMESPACE", code):
        return "compute"
    if "kernel_main" in code:
        if "noc_async_write" in code and "noc_async_read" not in code:
            return "writer"
        if "noc_async_read" in code and "noc_async_write" not in code:
            return "reader"
    return None


def extract_ttmetal(reply: str) -> Extraction:
    """TT-Metal kernels: role -> source for the reader, compute and writer kernels (fenced C++
    blocks, told apart by a `// reader|compute|writer` first line, the prose above, or their code)."""
    blocks = [(i, b) for i, b in enumerate(fenced_blocks(reply)) if b.lang in CODE_LANGS and b.code.strip()]
    sources: Dict[str, str] = {}
    used: List[int] = []
    for i, b in blocks:
        r = _role(b)
        if r and kernel_names(b.code, "ttmetal"):
            sources[r] = b.code  # later blocks replace earlier ones
            used.append(i)
    if not sources:
        return Extraction(None, "no TT-Metal kernel (kernel_main / MAIN) in the reply's code blocks", len(blocks))
    missing = [r for r in _ROLES if r not in sources]
    joined = "\n".join(f"// ==== {r} ====\n{sources[r].rstrip()}" for r in _ROLES if r in sources) + "\n"
    return Extraction(joined, f"missing kernel(s): {', '.join(missing)}" if missing else "", len(blocks), used,
                      [r for r in _ROLES if r in sources], sources)


def split_ttmetal(joined: str) -> Dict[str, str]:
    """The role -> source map back out of an archived TT-Metal candidate (extract_ttmetal's `source`)."""
    parts = re.split(r"^// ==== (reader|compute|writer) ====\n", joined, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
