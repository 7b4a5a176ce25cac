"""Read-modify-write races on global memory: every work-item updating the same element.

`if (i < N) S[0] += X[i];` sums correctly on PoCL, which runs the work-items of a group one
after another, and loses updates on a GPU. The rule, on a preprocessed source: a compound
assignment (`+=`, `-=`, ..., `++`, `--`) to an element of a global buffer whose index does not
depend on the work-item (no id built-in, no variable derived from one) is an error unless an
enclosing condition pins the work-item (`if (i == 0)`, `if (get_local_id(0) == 0 && ...)`,
CUDA's `threadIdx.x == 0`). Atomics are the fix, and are not flagged.

Conditions are tracked through `{}` blocks and single-statement `if`s; `else` branches and
early returns (`if (i != 0) return;`) are not understood, so such a kernel is flagged: the
finding names the element and the statement so a human can judge it.
"""
from __future__ import annotations

import re
from typing import List, Set, Tuple

from .. import targets

__all__ = ["global_races"]

_ID_CALL = re.compile(r"\b(?:get_global_id|get_local_id|get_group_id|threadIdx|blockIdx)\b")
_KERNEL = re.compile(r"(?:\b__kernel\b|\bkernel\b|\b__global__\b)[^{;]*?\b([A-Za-z_]\w*)\s*\(([^)]*)\)\s*\{")
_ASSIGN = re.compile(r"\b(?:[A-Za-z_][\w\s]*?\b)?([A-Za-z_]\w*)\s*=(?!=)\s*([^;]*);")
_RMW = re.compile(r"\b([A-Za-z_]\w*)\s*\[([^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*)\]\s*(?:(?:[-+*/%&|^]|<<|>>)=(?!=)|\+\+|--)")
_PRE = re.compile(r"(?:\+\+|--)\s*([A-Za-z_]\w*)\s*\[([^\[\]]*)\]")
_PIN = re.compile(r"==\s*0\b|\b0\s*==")


def _body(text: str, start: int) -> Tuple[int, int]:
    depth, i = 0, start
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return start, i
        i += 1
    return start, len(text)


def _writable_globals(params: str, pointers_global: bool) -> Set[str]:
    out = set()
    for p in params.split(","):
        p = p.strip()
        m = re.search(r"([A-Za-z_]\w*)\s*$", p)
        if not m or "*" not in p or re.search(r"\bconst\b", p):
            continue
        if pointers_global or re.search(r"\b(?:__global|global)\b", p):
            out.add(m.group(1))
    return out


def _id_derived(body: str) -> Set[str]:
    """Variables whose value depends on the work-item (to a fixed point)."""
    derived: Set[str] = set()
    for _ in range(8):
        before = len(derived)
        for m in _ASSIGN.finditer(body):
            name, value = m.group(1), m.group(2)
            if _ID_CALL.search(value) or any(re.search(rf"\b{re.escape(d)}\b", value) for d in derived):
                derived.add(name)
        if len(derived) == before:
            break
    return derived


def _conditions_at(body: str, pos: int) -> List[str]:
    """The `if` conditions enclosing `pos`: those of open `{}` blocks and of an unfinished
    single-statement `if`."""
    stack: List[str] = []  # per open brace: the condition that opened it ('' for a plain block)
    single: List[str] = []  # single-statement ifs whose statement has not ended yet
    pending = ""
    scan = re.compile(r"\b(?:if|for|while)\s*\(|[{};]")
    i = 0
    while True:
        m = scan.search(body, i, pos)
        if m is None:
            break
        tok = m.group(0)
        if tok[0] in "ifw":
            j, depth = m.end(), 1
            while j < pos and depth:
                depth += {"(": 1, ")": -1}.get(body[j], 0)
                j += 1
            if tok[0] != "i":  # a loop header: its `;`s end no statement
                i = j
                continue
            cond = body[m.end():j - 1]
            if body[j:pos].lstrip().startswith("{"):
                pending = cond
            else:
                single.append(cond)
            i = j
            continue
        if tok == "{":
            stack.append(pending)
            pending = ""
        elif tok == "}":
            if stack:
                stack.pop()
            single.clear()
        else:
            single.clear()
        i = m.end()
    return [c for c in stack if c] + single


def _pinned(body: str, pos: int, derived: Set[str]) -> bool:
    """Does a condition around `pos` pin the work-item (an id, or a variable derived from one, == 0)?"""
    ids = "|".join(re.escape(d) for d in derived)
    for c in _conditions_at(body, pos):
        if _PIN.search(c) and (_ID_CALL.search(c) or (ids and re.search(rf"\b(?:{ids})\b", c))):
            return True
    return False


def _single_work_item(text: str, kernel_at: int) -> bool:
    """The kernel's @launch line runs one work-item (global=(1) local=(1), grid=(1) block=(1))."""
    line_start = text.rfind("\n", 0, max(0, text.rfind("\n", 0, kernel_at))) + 1
    m = re.search(r"//\s*@launch\b(.*)", text[line_start:kernel_at])
    if not m:
        return False
    sizes = re.findall(r"(?:global|grid|local|block)\s*=\s*\(([^)]*)\)", m.group(1))
    return bool(sizes) and all(re.fullmatch(r"\s*1\s*(?:,\s*1\s*)*", g) for g in sizes)


def global_races(expanded: str, target: str) -> List[Tuple[str, str, int, int]]:
    """(code, message, line, col) for each unpinned read-modify-write of a uniform global element."""
    out = []
    dialect = targets.get(target).dialect
    pointers_global = bool(dialect and dialect.pointers_global)  # CUDA: no address-space qualifier to look for
    for k in _KERNEL.finditer(expanded):
        if _single_work_item(expanded, k.start()):
            continue
        start, end = _body(expanded, k.end() - 1)
        body = expanded[start:end]
        bufs = _writable_globals(k.group(2), pointers_global)
        derived = _id_derived(body)
        for m in list(_RMW.finditer(body)) + list(_PRE.finditer(body)):
            name, index = m.group(1), m.group(2)
            if name not in bufs or _ID_CALL.search(index):
                continue
            if any(re.search(rf"\b{re.escape(d)}\b", index) for d in derived):
                continue
            if _pinned(body, m.start(), derived):
                continue
            line = expanded.count("\n", 0, start + m.start()) + 1
            out.append(("safety.global-race", f"every work-item updates `{name}[{index.strip()}]` (the same element) "
                        "without an atomic: updates are lost on a GPU; use an atomic or a reduction", line, 1))
    return out
