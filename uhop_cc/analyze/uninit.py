"""Reads of memory nobody wrote: private scalars used before assignment, local arrays never written.

On PoCL an uninitialised `float acc;` is usually 0 and stale local memory often holds the
right values from the previous work-group, so such a kernel passes every test here and fails
on a GPU. These are textual checks of the preprocessed source (comments gone, macros expanded):

* a private scalar declared without an initialiser whose first use after the declaration is
  not an assignment (`acc = ...`, or of a component: `v.x = ...`) or an address-of (`&acc`): error;
* a `__local`/`local`/`__shared__` array that the kernel reads but never writes (no indexed
  assignment, no atomic, no async copy into it): error.

Branches can hide a use before the first assignment (`if (c) acc = 1; use(acc);` passes);
the run-time checks (different data per run, runs that must agree) are the second net.
"""
from __future__ import annotations

import re
from typing import List, Tuple

__all__ = ["uninitialised"]

_TYPES = r"(?:unsigned\s+)?(?:float|double|half|int|uint|long|ulong|short|ushort|char|uchar|size_t|bool)(?:2|3|4|8|16)?"
_DECL = re.compile(rf"(?<![\w.])(?:const\s+)?({_TYPES})\s+([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*;")
_ASSIGNED = re.compile(r"(?:\s*\.\s*\w+|\s*\[[^\]\n]*\])*\s*=(?!=)")
_LOCAL = re.compile(r"(?:\b__local\b|\blocal\b|\b__shared__\b)\s+(?:volatile\s+)?\w+\s+([A-Za-z_]\w*)\s*\[")


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _scalars(text: str) -> List[Tuple[str, str, int, int]]:
    out = []
    for m in _DECL.finditer(text):
        # a parameter list or a for-header is not a declaration statement
        before = text[max(0, m.start() - 1):m.start()]
        if before and before not in " \t\n{;}":
            continue
        for name in (n.strip() for n in m.group(2).split(",")):
            use = re.compile(rf"(?<![\w.]){re.escape(name)}\b").search(text, m.end())
            if use is None:
                continue
            prev = text[max(0, use.start() - 2):use.start()]
            # `acc = ...`, and a part of it: `v.x = ...` (vector components), `a[k] = ...`
            if _ASSIGNED.match(text, use.end()) or prev.endswith("&"):
                continue
            out.append(("safety.uninitialised", f"`{name}` is read before it is assigned (declared without a value "
                        f"on line {_line(text, m.start())}): its value is undefined", _line(text, use.start()), 1))
    return out


def _locals(text: str) -> List[Tuple[str, str, int, int]]:
    out = []
    for m in _LOCAL.finditer(text):
        name = m.group(1)
        rest = text[m.end():]
        writes = re.search(rf"\b{re.escape(name)}\s*(?:\[[^;]*?\]\s*)+(?:[-+*/%&|^]|<<|>>)?=(?!=)", rest) or \
            re.search(rf"(?:atomic\w*|atom_\w+|async_work_group\w*|vstore\w*)\s*\([^;]*\b{re.escape(name)}\b", rest) or \
            re.search(rf"[(,]\s*{re.escape(name)}\s*[,)]", rest)  # handed to a function that may fill it
        if writes is None and re.search(rf"\b{re.escape(name)}\b", rest):
            out.append(("safety.uninitialised", f"local array `{name}` is read but never written: its contents are "
                        "undefined", _line(text, m.start()), 1))
    return out


def uninitialised(expanded: str) -> List[Tuple[str, str, int, int]]:
    """(code, message, line, col) findings on a preprocessed source; never raises."""
    try:
        return _scalars(expanded) + _locals(expanded)
    except re.error:  # pragma: no cover - patterns are fixed
        return []
